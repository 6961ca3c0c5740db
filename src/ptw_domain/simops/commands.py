"""Commands of the SIMOPS area (section 8)."""

from __future__ import annotations

from uuid import UUID

from ptw_domain.commands import Command, Reason


class ResolveConflict(Command, frozen=True, kw_only=True):
    """SIM-08: `accept_with_controls` (controls required) or `not_accepted`, for the conflict's current facts."""

    conflict_id: UUID
    decision: str
    controls: Reason = ""
