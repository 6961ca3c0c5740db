"""SIMOPS events (section 8): the project's zone map and interaction matrix publications (project stream), the
project's SIMOPS register (footprints of candidate permits, the decisions taken and the zone map and matrix in
force) and conflict streams (detected, updated, resolved, cleared)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from ptw_domain.events.base import DomainEvent


class Footprint(msgspec.Struct, frozen=True, kw_only=True):
    """Where and when a candidate permit operates (SIM-02, SIM-03); `end` None = until further notice."""

    permit_id: UUID
    number: str
    category: str
    status: str
    areas: tuple[str, ...]
    equipment: tuple[str, ...]
    isolations: tuple[UUID, ...]
    energy_sources: tuple[str, ...]
    start: datetime
    end: datetime | None
    entered_at: datetime  # SIM-07: the latest entry into the candidate set
    extension_requested: bool = False  # `end` is a pending extension's requested end (basis, SIM-09)


class ZoneMap(msgspec.Struct, frozen=True, kw_only=True):
    """SIM-02: the areas adjacent to each area, symmetric; version 0 is the empty map every project starts with."""

    version: int = 0
    adjacency: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)


class MatrixEntry(msgspec.Struct, frozen=True, kw_only=True):
    """SIM-05: the severity and matrix rule of a category pair; `second` "*" is any category."""

    first: str
    second: str
    severity: str
    rule: str


class Matrix(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    entries: tuple[MatrixEntry, ...]


class ZoneMapPublished(DomainEvent, frozen=True, kw_only=True):
    stream = "project"
    project_id: UUID
    version: int
    adjacency: dict[str, tuple[str, ...]]
    published_by: str


class SimopsMatrixPublished(DomainEvent, frozen=True, kw_only=True):
    stream = "project"
    project_id: UUID
    version: int
    entries: tuple[MatrixEntry, ...]
    published_by: str


class RegisterEvent(DomainEvent, frozen=True, kw_only=True):
    stream = "simops_register"
    abstract = True


class SimopsFootprintRecorded(RegisterEvent, frozen=True, kw_only=True):
    project_id: UUID
    footprint: Footprint


class SimopsFootprintRemoved(RegisterEvent, frozen=True, kw_only=True):
    project_id: UUID
    permit_id: UUID


class SimopsDecisionRecorded(RegisterEvent, frozen=True, kw_only=True):
    project_id: UUID
    conflict_id: UUID
    facts_hash: str
    decision: str


class SimopsZoneMapAdopted(RegisterEvent, frozen=True, kw_only=True):
    """The register's copy of a published zone map, so that detection reads one stream (ADR 0009)."""

    project_id: UUID
    zone_map: ZoneMap


class SimopsMatrixAdopted(RegisterEvent, frozen=True, kw_only=True):
    """The register's copy of a published interaction matrix (ADR 0009)."""

    project_id: UUID
    matrix: Matrix


class ConflictFacts(msgspec.Struct, frozen=True, kw_only=True):
    """SIM-10: what makes the conflict; all but the versions the facts were established under are hashed."""

    rule: str
    severity: str
    older: UUID
    newer: UUID
    overlapping: dict[str, tuple[str, ...]]
    overlap_start: datetime
    overlap_end: datetime | None
    matrix_version: int = 1
    zone_map_version: int = 0


class ConflictEvent(DomainEvent, frozen=True, kw_only=True):
    stream = "conflict"
    abstract = True


class ConflictDetected(ConflictEvent, frozen=True, kw_only=True):
    conflict_id: UUID
    project_id: UUID
    older: UUID
    newer: UUID
    rule: str
    severity: str
    facts: ConflictFacts
    facts_hash: str
    basis: str
    matrix_version: int


class ConflictUpdated(ConflictEvent, frozen=True, kw_only=True):
    facts: ConflictFacts
    facts_hash: str
    open: bool


class ConflictResolved(ConflictEvent, frozen=True, kw_only=True):
    decision: str  # accept_with_controls | not_accepted
    controls: str
    facts_hash: str
    by: str


class ConflictCleared(ConflictEvent, frozen=True, kw_only=True):
    reason: str
