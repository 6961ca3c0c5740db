"""What the readiness evaluation of a batch's permits reads, gathered from the projection's own tables as the
service's workbench gathers it from the streams (`Workbench.context`): the same states, the same context.

The equivalence test (tests/projections/test_readiness.py) holds the two together: a context field the workbench
fills and this module does not shows up there as a stored outlook that disagrees with the live readiness.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, select

from ptw_domain.events.project import ProjectSettings
from ptw_domain.organisation import OrganisationState
from ptw_domain.people.facts import party_members
from ptw_domain.permit.context import PermitContext, ProjectFacts
from ptw_domain.permit.state import PermitState
from ptw_domain.roles import DEFAULT_ROLE_POLICY
from ptw_domain.simops.streams import register_id
from ptw_domain.templates import ResolvedTemplate
from ptw_projections.folding import Folder
from ptw_projections.reference import ReferenceData


class Inputs:
    """One batch's view of the states readiness reads; `load` fetches what a set of permits needs in bulk."""

    def __init__(
        self,
        conn: Connection,
        tables: Mapping[str, Table],
        permits: Folder[PermitState],
        others: Mapping[str, Folder[Any]],
        reference: ReferenceData,
        states: dict[UUID, PermitState],
    ) -> None:
        self.conn, self.tables = conn, tables
        self._permits, self._others, self._reference = permits, others, reference
        self.states = states  # permit states, those the batch changed first
        self.streams: dict[UUID, Any] = {}
        self.projects: dict[UUID, ProjectFacts] = {}
        self.retired: set[UUID] = set()

    def load(self, permit_ids: Iterable[UUID]) -> list[UUID]:
        """Load the permits and what their evaluation reads; returns those that exist (a register may name a
        permit whose first event comes later in the same transaction)."""
        wanted = [p for p in permit_ids if p not in self.states]
        self.states |= self._permits.load(self.conn, self.tables["outlooks"], "permit_id", wanted)
        found = [p for p in dict.fromkeys(permit_ids) if p in self.states]
        states = [self.states[p] for p in found]
        self._fetch("organisation", {s.organisation_id for s in states})
        self._fetch("simops_register", {register_id(s.project_id) for s in states})
        self._fetch("worker", {w for s in states for w in self._workers(s)})
        self._fetch("isolation", {i for s in states for i in s.isolations.isolation_ids()})
        self._load_projects({s.project_id for s in states} - set(self.projects))
        r = self.tables["retired_templates"]
        templates = {s.template.template_id for s in states}
        self.retired |= set(
            self.conn.execute(select(r.c.template_id).where(r.c.template_id.in_(templates))).scalars()
        )
        return found

    def reads(self, state: PermitState) -> set[UUID]:
        """The worker and isolation streams the permit's readiness reads."""
        return self._workers(state) | set(state.isolations.isolation_ids())

    def context(self, state: PermitState, now: datetime) -> PermitContext:
        """The context `Workbench.context` builds without an actor (RDY-05), from these states."""
        org: OrganisationState | None = self.streams.get(state.organisation_id)
        template = self._template(state)
        return PermitContext(
            state=state,
            template=template,
            template_retired=state.template.template_id in self.retired,
            policy=org.policy if org else DEFAULT_ROLE_POLICY,
            project=self.projects[state.project_id],
            now=now,
            workers={w: self.streams[w] for w in self._workers(state) if w in self.streams},
            members=self._members(state),
            gas_profiles=org.gas_profiles if org else (),
            isolations={i: self.streams[i] for i in state.isolations.isolation_ids() if i in self.streams},
            simops=self.streams.get(register_id(state.project_id)),
        )

    def _template(self, state: PermitState) -> ResolvedTemplate:
        return self._reference.template(self.conn, self.tables, state.project_id, state.template)

    def _members(self, state: PermitState) -> dict[str, UUID]:
        org: OrganisationState | None = self.streams.get(state.organisation_id)
        return party_members(state, None, self._template(state), org.member_workers) if org else {}

    def _workers(self, state: PermitState) -> set[UUID]:
        return state.people.worker_ids() | set(self._members(state).values())

    def _fetch(self, kind: str, ids: set[UUID]) -> None:
        folder = self._others[kind]
        loaded = folder.load(self.conn, self.tables["streams"], "stream_id", ids - set(self.streams))
        self.streams |= loaded
        folder.keep(loaded)

    def _load_projects(self, project_ids: set[UUID]) -> None:
        t = self.tables["projects"]
        for row in self.conn.execute(select(t).where(t.c.project_id.in_(project_ids))):
            self.projects[row.project_id] = ProjectFacts(
                project_id=row.project_id,
                organisation_id=row.organisation_id,
                code=row.code,
                time_zone=row.time_zone,
                settings=msgspec.json.decode(row.settings, type=ProjectSettings),
            )
