"""The project stream: settings, permit numbering (NUM-01..03), template overrides (TPL-04/05) and the SIMOPS
zone map and matrix publications (SIM-02/05)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from msgspec.structs import replace

from ptw_domain.events import project as ev
from ptw_domain.events import simops as sev
from ptw_domain.events.base import DomainEvent, Recorded


class Override(msgspec.Struct, frozen=True, kw_only=True):
    override_version: int
    based_on_template_version: int
    patch: dict[str, Any]
    active: bool = True


class ProjectState(msgspec.Struct, frozen=True, kw_only=True):
    project_id: UUID
    organisation_id: UUID
    code: str
    name: str
    time_zone: str
    settings: ev.ProjectSettings
    version: int
    sequences: dict[int, int] = msgspec.field(default_factory=dict)
    permits: dict[str, UUID] = msgspec.field(default_factory=dict)  # number -> permit id
    overrides: dict[UUID, tuple[Override, ...]] = msgspec.field(default_factory=dict)

    def active_override(self, template_id: UUID) -> Override | None:
        history = self.overrides.get(template_id, ())
        return history[-1] if history and history[-1].active else None

    def next_number(self, created_at: datetime) -> ev.PermitNumberAllocated:
        """NUM-01/02: the next number of the (project, year) sequence; the caller records it with the draft."""
        year = created_at.astimezone(ZoneInfo(self.time_zone)).year
        sequence = self.sequences.get(year, 0) + 1
        number = self.settings.number_format.format(code=self.code, year=year, sequence=sequence)
        return ev.PermitNumberAllocated(year=year, sequence=sequence, number=number, permit_id=UUID(int=0))


def evolve_project(state: ProjectState | None, recorded: Recorded[Any]) -> ProjectState:
    e: DomainEvent = recorded.payload
    if isinstance(e, ev.ProjectOpened):
        return ProjectState(
            project_id=e.project_id,
            organisation_id=e.organisation_id,
            code=e.code,
            name=e.name,
            time_zone=e.time_zone,
            settings=e.settings,
            version=recorded.version,
        )
    assert state is not None, "a project stream starts with ProjectOpened"
    state = replace(state, version=recorded.version)
    if isinstance(e, ev.ProjectSettingsChanged):
        return replace(state, settings=e.settings)
    if isinstance(e, ev.PermitNumberAllocated):
        return replace(
            state,
            sequences={**state.sequences, e.year: e.sequence},
            permits={**state.permits, e.number: e.permit_id},
        )
    if isinstance(e, ev.TemplateOverridePublished):
        override = Override(
            override_version=e.override_version,
            based_on_template_version=e.based_on_template_version,
            patch=e.patch,
        )
        history = state.overrides.get(e.template_id, ())
        return replace(state, overrides={**state.overrides, e.template_id: (*history, override)})
    if isinstance(e, ev.TemplateOverrideWithdrawn):
        history = state.overrides.get(e.template_id, ())
        withdrawn = tuple(
            replace(o, active=False) if o.override_version == e.override_version else o for o in history
        )
        return replace(state, overrides={**state.overrides, e.template_id: withdrawn})
    if isinstance(e, sev.ZoneMapPublished | sev.SimopsMatrixPublished):
        return state  # in force through the project's SIMOPS register (ADR 0009), which adopts them
    raise TypeError(f"not a project event: {recorded.type}")
