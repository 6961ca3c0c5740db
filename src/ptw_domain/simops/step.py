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
from ptw_domain.simops.model import Register, conflicts_of, is_open
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
        extension_requested=pending is not None,
    )


@dataclass(frozen=True, slots=True)
class FootprintChange:
    """A changed footprint: the register event, the register after it, and the permit's conflicts before and
    after it."""

    event: ev.RegisterEvent
    register: Register
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
        return FootprintChange(
            event=removed, register=apply_footprint(register, removed), before=before, after={}
        )
    recorded = ev.SimopsFootprintRecorded(project_id=register.project_id, footprint=fp)
    after = apply_footprint(register, recorded)
    return FootprintChange(event=recorded, register=after, before=before, after=conflicts_of(after, fp))


def conflict_events(
    change: FootprintChange, conflicts: dict[UUID, ConflictState | None]
) -> dict[UUID, list[Any]]:
    """Per conflict stream, what a footprint change records."""
    left = isinstance(change.event, ev.SimopsFootprintRemoved)
    return conflict_changes(
        change.register,
        change.before,
        change.after,
        conflicts,
        cleared_reason="left the candidate set" if left else "no longer overlapping",
    )


def conflict_changes(
    register: Register,
    before: dict[UUID, tuple[ev.ConflictFacts, str]],
    after: dict[UUID, tuple[ev.ConflictFacts, str]],
    conflicts: dict[UUID, ConflictState | None],
    *,
    cleared_reason: str,
) -> dict[UUID, list[Any]]:
    """Per conflict stream, what an evaluation found against the register (as it is after the change): detected,
    updated (changed facts hash or reappeared) or cleared (SIM-11)."""
    out: dict[UUID, list[Any]] = {}
    for cid, (facts, digest) in after.items():
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
                    basis=_basis(register, facts),
                    matrix_version=facts.matrix_version,
                )
            ]
        elif existing.cleared or existing.facts_hash != digest:
            out[cid] = [
                ev.ConflictUpdated(facts=facts, facts_hash=digest, open=is_open(register, cid, digest))
            ]
    for cid in before.keys() - after.keys():
        existing = conflicts.get(cid)
        if existing is not None and not existing.cleared:
            out[cid] = [ev.ConflictCleared(reason=cleared_reason)]
    return out


def _basis(register: Register, facts: ev.ConflictFacts) -> str:
    """SIM-09: the facts rest on a requested extension window when either permit's occupancy ends with one."""
    pair = (register.footprints.get(facts.older), register.footprints.get(facts.newer))
    return "proposed_extension" if any(fp and fp.extension_requested for fp in pair) else "planned"
