"""The permit list projection: folds permits and conflicts with the domain's evolve and keeps one row each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, delete, select

from ptw_domain.events import organisation as org
from ptw_domain.events import project as prj
from ptw_domain.events.base import Recorded
from ptw_domain.permit.content import Priority
from ptw_domain.permit.expiry import expiry_due
from ptw_domain.permit.state import PermitState
from ptw_domain.simops.streams import ConflictState
from ptw_domain.templates import ResolvedTemplate, TemplateRef
from ptw_domain.templates.resolution import resolve_template
from ptw_projections.bulk import insert_rows, upsert_rows
from ptw_projections.folding import Folder
from ptw_projections.permit_list.tables import DEFINITIONS
from ptw_projections.projection import Positioned, Projection, TableDefinition

PRIORITY_RANK = {p: rank for rank, p in enumerate(Priority)}
_json = msgspec.json.Encoder()


def party_roles(state: PermitState) -> set[tuple[str, str]]:
    """(person, role) pairs of the people who hold a party role on the permit (RM-01 assignee)."""
    parties = {(state.requestor, "requestor"), (state.performing_authority, "performing_authority")}
    if state.verifier is not None:
        parties.add((state.verifier.person_id, "verifier"))
    parties.update((m.person_id, "approver") for m in state.approvers)
    for person, role in (
        (state.verified_by, "verifier"),
        (state.approved_by, "approver"),
        (state.issuer_of_record, "issuer"),
    ):
        if person:
            parties.add((person, role))
    return parties


def search_text(state: PermitState) -> str:
    """What `q` searches (RM-01): number, title, description, location, equipment and work order."""
    c = state.content
    parts = [state.number, c.title, c.description, c.location, *c.equipment_tags, c.work_order_id or ""]
    return "\n".join(parts).lower()


class PermitList(Projection):
    name: ClassVar[str] = "permit_list"
    version: ClassVar[int] = 1
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS
    streams: ClassVar[frozenset[str] | None] = frozenset({"permit", "conflict", "template", "project"})

    def __init__(self) -> None:
        self.permits = Folder("permit", PermitState)
        self.conflicts = Folder("conflict", ConflictState)
        # Template versions and overrides never change once published: their resolution is cached for good.
        self._resolved: dict[tuple[UUID, int, UUID, int | None], ResolvedTemplate] = {}

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        permit_events: list[Recorded[Any]] = []
        conflict_events: list[Recorded[Any]] = []
        for _, recorded in events:
            stream = type(recorded.payload).stream
            if stream == "permit":
                permit_events.append(recorded)
            elif stream == "conflict":
                conflict_events.append(recorded)
            elif stream in ("template", "project"):
                self._reference(conn, tables, recorded)
        if permit_events:
            self._permits(conn, tables, permit_events)
        if conflict_events:
            self._conflicts(conn, tables, conflict_events)

    def _reference(self, conn: Connection, tables: Mapping[str, Table], recorded: Recorded[Any]) -> None:
        e = recorded.payload
        if isinstance(e, org.TemplateVersionPublished):
            conn.execute(
                tables["templates"].insert(),
                [{"template_id": e.template_id, "version": e.version, "definition": _text(e.definition)}],
            )
        elif isinstance(e, prj.ProjectOpened):
            conn.execute(
                tables["projects"].insert(),
                [
                    {
                        "project_id": e.project_id,
                        "code": e.code,
                        "time_zone": e.time_zone,
                        "settings": _text(e.settings),
                    }
                ],
            )
        elif isinstance(e, prj.ProjectSettingsChanged):
            t = tables["projects"]
            conn.execute(
                t.update().where(t.c.project_id == recorded.stream_id).values(settings=_text(e.settings))
            )
        elif isinstance(e, prj.TemplateOverridePublished):
            conn.execute(
                tables["template_overrides"].insert(),
                [
                    {
                        "project_id": e.project_id,
                        "template_id": e.template_id,
                        "override_version": e.override_version,
                        "patch": _text(e.patch),
                    }
                ],
            )

    def _template(
        self, conn: Connection, tables: Mapping[str, Table], project_id: UUID, ref: TemplateRef
    ) -> ResolvedTemplate:
        key = (ref.template_id, ref.version, project_id, ref.override_version)
        if key not in self._resolved:
            t, o = tables["templates"], tables["template_overrides"]
            definition = conn.execute(
                select(t.c.definition).where(t.c.template_id == ref.template_id, t.c.version == ref.version)
            ).scalar_one()
            patch = None
            if ref.override_version is not None:
                patch = conn.execute(
                    select(o.c.patch).where(
                        o.c.project_id == project_id,
                        o.c.template_id == ref.template_id,
                        o.c.override_version == ref.override_version,
                    )
                ).scalar_one()
            resolved, _ = resolve_template(
                msgspec.json.decode(definition), msgspec.json.decode(patch) if patch else None
            )
            self._resolved[key] = resolved
        return self._resolved[key]

    def _permits(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t = tables["permits"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states = self.permits.load(conn, t, "permit_id", ids)
        self.permits.fold(states, events)
        rows, parties, tags = [], [], []
        for permit_id in ids:
            s = states[permit_id]
            template = self._template(conn, tables, s.project_id, s.template)
            due = expiry_due(s, template)
            c = s.content
            rows.append(
                {
                    "permit_id": permit_id,
                    "project_id": s.project_id,
                    "number": s.number,
                    "title": c.title,
                    "category": s.category,
                    "template_key": s.template.key,
                    "template_version": s.template.version,
                    "status": s.status.value,
                    "priority": c.priority.value,
                    "priority_rank": PRIORITY_RANK[c.priority],
                    "risk_score": s.risk_score,
                    "risk_level": s.risk_level.value,
                    "effective_risk_level": s.effective_risk_level.value,
                    "area": c.area,
                    "location": c.location,
                    "requestor": s.requestor,
                    "performing_authority": s.performing_authority,
                    "created_at": s.created_at,
                    "planned_start": c.planned_start,
                    "planned_end": c.planned_end,
                    "valid_until": s.valid_until,
                    "expires_at": due[0] if due else None,
                    "search_text": search_text(s),
                    "version": s.version,
                    "state": self.permits.encode(s),
                }
            )
            parties += [{"permit_id": permit_id, "person_id": p, "role": r} for p, r in party_roles(s)]
            tags += [{"permit_id": permit_id, "tag": tag} for tag in dict.fromkeys(c.equipment_tags)]
        upsert_rows(conn, t, rows, ["permit_id"])
        for name, fresh in (("permit_parties", parties), ("permit_tags", tags)):
            table = tables[name]
            conn.execute(delete(table).where(table.c.permit_id.in_(ids)))
            insert_rows(conn, table, fresh)

    def _conflicts(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t = tables["conflicts"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states = self.conflicts.load(conn, t, "conflict_id", ids)
        self.conflicts.fold(states, events)
        rows = [
            {
                "conflict_id": cid,
                "project_id": s.project_id,
                "older": s.older,
                "newer": s.newer,
                "rule": s.rule,
                "severity": s.severity,
                "open": s.open,
                "state": self.conflicts.encode(s),
            }
            for cid, s in ((cid, states[cid]) for cid in ids)
        ]
        upsert_rows(conn, t, rows, ["conflict_id"])


def _text(value: Any) -> str:
    return _json.encode(value).decode()
