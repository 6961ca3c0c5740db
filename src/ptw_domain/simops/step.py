"""The SIMOPS step of every permit command (SIM-09): when the permit's footprint changes, record it in the
project's register and detect, update or clear its conflicts, all in the command's transaction.

Every change to a candidate's status, place or window changes its footprint, so commands that could race for a
SIMOPS check (two submissions, a submission and an approval) write the same register stream and cannot both pass
on a stale view (the second conflicts and is decided again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ptw_domain.events import simops as ev
from ptw_domain.isolation.state import IsolationState
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import SIMOPS_CANDIDATE, Status
from ptw_domain.simops.model import MATRIX_VERSION, Register, conflicts_of, is_open
from ptw_domain.simops.streams import ConflictState, apply_footprint


def footprint_of(
    state: PermitState, isolations: dict[UUID, IsolationState], previous: ev.Footprint | None, now: datetime
) -> ev.Footprint | None:
    """SIM-01..03: a candidate's places and occupancy; a pending extension counts with its requested end."""
    if state.status not in SIMOPS_CANDIDATE:
        return None
    content = state.content
    start = min(content.planned_start, state.activated_at) if state.activated_at else content.planned_start
    pending = state.pending_extension
    end = (
        None if state.status is Status.EXPIRED else (pending.requested_end if pending else state.valid_until)
    )
    linked = [
        isolations[a.isolation_id] for a in state.isolations.assignments if a.isolation_id in isolations
    ]
    return ev.Footprint(
        permit_id=state.permit_id,
        number=state.number,
        category=state.category,
        status=state.status.value,
        areas=(content.area,),
        equipment=tuple(sorted(content.equipment_tags)),
        isolations=tuple(sorted(i.isolation_id for i in linked)),
        energy_sources=tuple(sorted({i.point.energy_source_id for i in linked if i.point.energy_source_id})),
        start=start,
        end=end,
        entered_at=previous.entered_at if previous else now,
    )


@dataclass(frozen=True, slots=True)
class FootprintChange:
    """A changed footprint: the register event, and the permit's conflicts before and after it."""

    event: ev.RegisterEvent
    before: dict[UUID, tuple[ev.ConflictFacts, str]]
    after: dict[UUID, tuple[ev.ConflictFacts, str]]

    @property
    def touched(self) -> set[UUID]:
        """The conflict streams the change may write (to load them first)."""
        return set(self.before) | set(self.after)


def footprint_change(
    register: Register, state: PermitState, fp: ev.Footprint | None
) -> FootprintChange | None:
    """Compare the permit's new footprint with the register's, once per command."""
    previous = register.footprints.get(state.permit_id)
    if fp == previous:
        return None
    before = conflicts_of(register, previous) if previous else {}
    if fp is None:
        removed = ev.SimopsFootprintRemoved(project_id=register.project_id, permit_id=state.permit_id)
        return FootprintChange(event=removed, before=before, after={})
    recorded = ev.SimopsFootprintRecorded(project_id=register.project_id, footprint=fp)
    return FootprintChange(
        event=recorded, before=before, after=conflicts_of(apply_footprint(register, recorded), fp)
    )


def conflict_events(
    register: Register,
    state: PermitState,
    change: FootprintChange,
    conflicts: dict[UUID, ConflictState | None],
) -> dict[UUID, list[Any]]:
    """Per conflict stream, what the change records: detected, updated (changed facts or reappeared) or cleared."""
    out: dict[UUID, list[Any]] = {}
    for cid, (facts, digest) in change.after.items():
        existing = conflicts.get(cid)
        if existing is None:
            out[cid] = [
                ev.ConflictDetected(
                    conflict_id=cid,
                    project_id=register.project_id,
                    older=facts.older,
                    newer=facts.newer,
                    rule=facts.rule,
                    severity=facts.severity,
                    facts=facts,
                    facts_hash=digest,
                    basis="proposed_extension" if state.pending_extension else "planned",
                    matrix_version=MATRIX_VERSION,
                )
            ]
        elif existing.cleared or existing.facts_hash != digest:
            out[cid] = [
                ev.ConflictUpdated(facts=facts, facts_hash=digest, open=is_open(register, cid, digest))
            ]
    for cid in change.before.keys() - change.after.keys():
        existing = conflicts.get(cid)
        if existing is not None and not existing.cleared:
            left = isinstance(change.event, ev.SimopsFootprintRemoved)
            reason = "left the candidate set" if left else "no longer overlapping"
            out[cid] = [ev.ConflictCleared(reason=reason)]
    return out
