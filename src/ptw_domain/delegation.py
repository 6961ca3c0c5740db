"""Delegations (DEL-01..04): the stream and the check made when a delegate acts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from msgspec.structs import replace

from ptw_domain.errors import Forbidden
from ptw_domain.events import delegation as ev
from ptw_domain.events.base import Recorded


class DelegationState(msgspec.Struct, frozen=True, kw_only=True):
    grant: ev.DelegationGranted
    version: int
    revoked: bool = False


def evolve_delegation(state: DelegationState | None, recorded: Recorded[Any]) -> DelegationState:
    e = recorded.payload
    if isinstance(e, ev.DelegationGranted):
        return DelegationState(grant=e, version=recorded.version)
    assert state is not None and isinstance(e, ev.DelegationRevoked)
    return replace(state, version=recorded.version, revoked=True)


def check_usable(
    state: DelegationState, *, delegate: str, permit_id: UUID, project_id: UUID, now: datetime
) -> None:
    """DEL-04: not revoked, inside its window, for this delegate, project and (if scoped) permit."""
    grant = state.grant
    problems = []
    if state.revoked:
        problems.append("revoked")
    if grant.delegate.person_id != delegate:
        problems.append("granted to someone else")
    if grant.project_id != project_id or (grant.permit_id is not None and grant.permit_id != permit_id):
        problems.append("not for this permit")
    if (grant.valid_from and now < grant.valid_from) or (grant.valid_until and now >= grant.valid_until):
        problems.append("outside its validity")
    if problems:
        raise Forbidden(
            f"the delegation cannot be used: {', '.join(problems)}",
            rule_ids=("DEL-04",),
            facts={"delegation_id": str(grant.delegation_id), "problems": problems},
        )
