"""Permit content (section 4.1): which fields are core (signed scope), which admin, with the SEC-11 limits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

Short = Annotated[str, Meta(max_length=200)]
Title = Annotated[str, Meta(max_length=200)]
Description = Annotated[str, Meta(max_length=10_000)]
Location = Annotated[str, Meta(max_length=500)]
LongText = Annotated[str, Meta(max_length=2_000)]
Score = Annotated[int, Meta(ge=1, le=5)]


class WorkNature(StrEnum):
    """EXT-07: day 06:00-18:00, night 18:00-06:00 in project time; `both` spans shifts."""

    DAY = "day"
    NIGHT = "night"
    BOTH = "both"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Origin(StrEnum):
    """LIFE-04: where a draft came from."""

    API = "api"
    OFFLINE_DEVICE = "offline_device"
    INTEGRATION = "integration"


class PermitContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the permit authorises. Core fields are covered by the core hash (SIG-06)."""

    # core: scope, place, time, people, risk, precautions, links
    description: Description
    area: Short
    location: Location = ""
    equipment_tags: Annotated[tuple[Short, ...], Meta(max_length=50)] = ()
    confined_space: bool = False
    planned_start: datetime
    planned_end: datetime
    work_nature: WorkNature = WorkNature.DAY
    performing_authority: Short | None = None
    probability: Score
    severity: Score
    hazards: Annotated[tuple[LongText, ...], Meta(max_length=100)] = ()
    controls: Annotated[tuple[LongText, ...], Meta(max_length=100)] = ()
    ppe: Annotated[tuple[Short, ...], Meta(max_length=50)] = ()
    checklist_answers: Annotated[dict[Short, bool], Meta(max_length=300)] = msgspec.field(
        default_factory=dict
    )
    emergency_arrangements: LongText = ""
    special_instructions: LongText = ""
    related_permits: Annotated[tuple[UUID, ...], Meta(max_length=50)] = ()
    predecessor_permit: UUID | None = None
    # admin: no effect on signatures
    title: Title = ""
    work_order_id: Short | None = None
    gps: tuple[float, float] | None = None
    priority: Priority = Priority.MEDIUM
    contacts: Annotated[tuple[Short, ...], Meta(max_length=50)] = ()
    notes: LongText = ""


CORE_FIELDS: frozenset[str] = frozenset(
    {
        "description",
        "area",
        "location",
        "equipment_tags",
        "confined_space",
        "planned_start",
        "planned_end",
        "work_nature",
        "performing_authority",
        "probability",
        "severity",
        "hazards",
        "controls",
        "ppe",
        "checklist_answers",
        "emergency_arrangements",
        "special_instructions",
        "related_permits",
        "predecessor_permit",
    }
)
ADMIN_FIELDS: frozenset[str] = frozenset(PermitContent.__struct_fields__) - CORE_FIELDS

# LIFE-01/RISK-02: fields a client may never write.
DERIVED_FIELDS: frozenset[str] = frozenset(
    {
        "status",
        "risk_score",
        "risk_level",
        "effective_risk_level",
        "valid_until",
        "version",
        "cycle",
        "number",
        "requestor",
        "id",
        "template",
    }
)


class FieldChange(msgspec.Struct, frozen=True):
    """Before and after of one changed field (PermitEdited, PermitAmended; RM-11)."""

    before: Any
    after: Any


def diff_content(before: PermitContent, after: PermitContent) -> dict[str, FieldChange]:
    """The fields whose values differ, as JSON-ready before/after pairs."""
    old, new = msgspec.to_builtins(before), msgspec.to_builtins(after)
    return {
        name: FieldChange(old.get(name), new.get(name))
        for name in PermitContent.__struct_fields__
        if old.get(name) != new.get(name)
    }
