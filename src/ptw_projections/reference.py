"""Reference data a read model needs beside its own rows: template versions, project overrides and projects.

A permit pins its template (TPL-02); values such as the expiry instant (start window) or gas validity come from
the resolved template. A projection that needs them keeps these three small tables among its own (so its
rebuild stays self-contained) and resolves through the domain's `resolve_template`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, Uuid, select

from ptw_domain.events import organisation as org
from ptw_domain.events import project as prj
from ptw_domain.events.base import Recorded
from ptw_domain.templates import ResolvedTemplate, TemplateRef
from ptw_domain.templates.resolution import resolve_template

_json = msgspec.json.Encoder()


def templates(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("template_id", Uuid, primary_key=True),
        Column("version", Integer, primary_key=True),
        Column("definition", Text, nullable=False),
    )


def template_overrides(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("project_id", Uuid, primary_key=True),
        Column("template_id", Uuid, primary_key=True),
        Column("override_version", Integer, primary_key=True),
        Column("patch", Text, nullable=False),
    )


def projects(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("project_id", Uuid, primary_key=True),
        Column("organisation_id", Uuid, nullable=False),
        Column("code", String(64), nullable=False),
        Column("time_zone", String(64), nullable=False),
        Column("settings", Text, nullable=False),
    )


DEFINITIONS = {"templates": templates, "template_overrides": template_overrides, "projects": projects}
STREAMS = frozenset({"template", "project"})


class ReferenceData:
    """Records reference events into the three tables and resolves a permit's template from them."""

    def __init__(self) -> None:
        # Template versions and overrides never change once published: their resolution is cached for good.
        self._resolved: dict[tuple[UUID, int, UUID, int | None], ResolvedTemplate] = {}

    def record(self, conn: Connection, tables: Mapping[str, Table], recorded: Recorded[Any]) -> UUID | None:
        """Keep templates, overrides and projects; returns the project whose settings changed, if any."""
        e = recorded.payload
        if isinstance(e, org.TemplateVersionPublished):
            row = {"template_id": e.template_id, "version": e.version, "definition": _text(e.definition)}
            conn.execute(tables["templates"].insert(), [row])
        elif isinstance(e, prj.ProjectOpened):
            row = {
                "project_id": e.project_id,
                "organisation_id": e.organisation_id,
                "code": e.code,
                "time_zone": e.time_zone,
                "settings": _text(e.settings),
            }
            conn.execute(tables["projects"].insert(), [row])
        elif isinstance(e, prj.ProjectSettingsChanged):
            t = tables["projects"]
            conn.execute(
                t.update().where(t.c.project_id == recorded.stream_id).values(settings=_text(e.settings))
            )
            return recorded.stream_id
        elif isinstance(e, prj.TemplateOverridePublished):
            row = {
                "project_id": e.project_id,
                "template_id": e.template_id,
                "override_version": e.override_version,
                "patch": _text(e.patch),
            }
            conn.execute(tables["template_overrides"].insert(), [row])
        return None

    def template(
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


def _text(value: Any) -> str:
    return _json.encode(value).decode()
