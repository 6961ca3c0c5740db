"""Commands of the SIMOPS area (section 8): resolving a conflict, and the project's zone map and interaction
matrix (section 20, configuration)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from msgspec import Meta

from ptw_domain.commands import Command, Reason
from ptw_domain.events.simops import MatrixEntry
from ptw_domain.permit.content import Short


class ResolveConflict(Command, frozen=True, kw_only=True):
    """SIM-08: `accept_with_controls` (controls required) or `not_accepted`, for the conflict's current facts."""

    conflict_id: UUID
    decision: str
    controls: Reason = ""


class PublishZoneMap(Command, frozen=True, kw_only=True):
    """SIM-02: the project's next zone map version; each area names the areas adjacent to it (made symmetric)."""

    project_id: UUID
    adjacency: Annotated[dict[Short, tuple[Short, ...]], Meta(max_length=2_000)]


class PublishSimopsMatrix(Command, frozen=True, kw_only=True):
    """SIM-05: the project's next interaction matrix version, replacing the one in force (version 1: defaults)."""

    project_id: UUID
    entries: Annotated[tuple[MatrixEntry, ...], Meta(max_length=200)]
