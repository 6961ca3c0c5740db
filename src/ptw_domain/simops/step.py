"""The SIMOPS step of every permit command (SIM-09): when the permit's footprint changes, record it in the
project's register and detect, update or clear its conflicts, all in the command's transaction.

Every change to a candidate's status, place or window changes its footprint, so commands that could race for a
SIMOPS check (two submissions, a submission and an approval) write the same register stream and cannot both pass
on a stale view (the second conflicts and is decided again).
"""

from __future__ import annotations

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


def simops_events(
    register: Register,
    state: PermitState,
    fp: ev.Footprint | None,
    conflicts: dict[UUID, ConflictState | None],
) -> tuple[list[ev.RegisterEvent], dict[UUID, list[Any]]]:
    """The register events and, per conflict stream, the conflict events a footprint change records."""
    previous = register.footprints.get(state.permit_id)
    if fp == previous:
        return [], {}
    register_events: list[ev.RegisterEvent] = [
        ev.SimopsFootprintRecorded(project_id=register.project_id, footprint=fp)
        if fp is not None
        else ev.SimopsFootprintRemoved(project_id=register.project_id, permit_id=state.permit_id)
    ]
    before = conflicts_of(register, previous) if previous else {}
    after_register = apply_footprint(register, register_events[0])
    after = conflicts_of(after_register, fp) if fp else {}
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
                    basis="proposed_extension" if state.pending_extension else "planned",
                    matrix_version=MATRIX_VERSION,
                )
            ]
        elif existing.cleared or existing.facts_hash != digest:
            out[cid] = [
                ev.ConflictUpdated(facts=facts, facts_hash=digest, open=is_open(register, cid, digest))
            ]
    for cid in before.keys() - after.keys():
        existing = conflicts.get(cid)
        if existing is not None and not existing.cleared:
            reason = "left the candidate set" if fp is None else "no longer overlapping"
            out[cid] = [ev.ConflictCleared(reason=reason)]
    return register_events, out


def conflict_ids_touched(register: Register, state: PermitState, fp: ev.Footprint | None) -> set[UUID]:
    """The conflict streams a footprint change may write (to load them first)."""
    previous = register.footprints.get(state.permit_id)
    ids = set(conflicts_of(register, previous)) if previous else set()
    if fp is not None:
        candidate = ev.SimopsFootprintRecorded(project_id=register.project_id, footprint=fp)
        ids |= set(conflicts_of(apply_footprint(register, candidate), fp))
    return ids
