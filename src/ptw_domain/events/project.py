"""Project stream events: opening, settings, numbering (NUM-02) and template overrides (TPL-04/05)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from ptw_domain.events.base import DomainEvent


class ProjectSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Project-level settings of TEN-06, SOD-09, LIFE-06, TIME-02, SIG-04, NUM-01, HOV-02/03 and SYNC-02 with their
    defaults."""

    active: bool = True
    allow_self_issue_low_risk: bool = False
    planning_horizon_days: int = 30
    clock_skew_minutes: int = 5
    reauth_max_age_seconds: int = 300
    number_format: str = "{code}-{year}-{sequence:05d}"
    shift_boundaries: tuple[str, str] = ("06:00", "18:00")
    handover_window_minutes: int = (
        60  # HOV-02 [choice]: a handover may be recorded this long before a boundary
    )
    handover_grace_minutes: int = 30  # HOV-03 [choice]: and must be acknowledged by the boundary plus this
    offline_max_age_hours: int = 72  # SYNC-02 [choice]: an older offline command is rejected too_old


class ProjectOpened(DomainEvent, frozen=True, kw_only=True):
    stream = "project"
    project_id: UUID
    organisation_id: UUID
    code: str
    name: str
    time_zone: str
    settings: ProjectSettings
    opened_by: str


class ProjectSettingsChanged(DomainEvent, frozen=True, kw_only=True):
    stream = "project"
    settings: ProjectSettings
    changed: tuple[str, ...]


class PermitNumberAllocated(DomainEvent, frozen=True, kw_only=True):
    stream = "project"
    year: int
    sequence: int
    number: str
    permit_id: UUID


class TemplateOverridePublished(DomainEvent, frozen=True, kw_only=True):
    stream = "project"
    project_id: UUID
    template_id: UUID
    override_version: int
    based_on_template_version: int
    patch: dict[str, Any]
    hash: str
    published_by: str


class TemplateOverrideWithdrawn(DomainEvent, frozen=True, kw_only=True):
    stream = "project"
    template_id: UUID
    override_version: int
    withdrawn_by: str
