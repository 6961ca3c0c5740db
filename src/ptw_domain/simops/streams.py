"""The SIMOPS register stream (one per project) and conflict streams: their states and folds."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
from msgspec.structs import replace

from ptw_domain.events import simops as ev
from ptw_domain.events.base import Recorded
from ptw_domain.simops.model import Register, accepts, indexed, unindexed

_REGISTERS = uuid5(NAMESPACE_URL, "urn:ptw:simops-register")


@lru_cache(maxsize=4096)  # asked by every permit decision
def register_id(project_id: UUID) -> UUID:
    return uuid5(_REGISTERS, str(project_id))


def apply_footprint(register: Register, event: ev.RegisterEvent) -> Register:
    """The register after one event (used by the fold and by a decision looking ahead)."""
    if isinstance(event, ev.SimopsFootprintRecorded):
        fp = event.footprint
        previous = register.footprints.get(fp.permit_id)
        return replace(
            register,
            footprints={**register.footprints, fp.permit_id: fp},
            index=indexed(register.index, fp, remove=previous),
        )
    if isinstance(event, ev.SimopsFootprintRemoved):
        previous = register.footprints.get(event.permit_id)
        footprints = {k: v for k, v in register.footprints.items() if k != event.permit_id}
        return replace(register, footprints=footprints, index=unindexed(register.index, previous))
    if isinstance(event, ev.SimopsZoneMapAdopted):
        return replace(register, zone_map=event.zone_map)
    if isinstance(event, ev.SimopsMatrixAdopted):
        return replace(register, matrix=event.matrix)
    assert isinstance(event, ev.SimopsDecisionRecorded)
    return replace(
        register, decisions={**register.decisions, event.conflict_id: (event.facts_hash, event.decision)}
    )


def evolve_register(state: Register | None, recorded: Recorded[Any]) -> Register:
    register = state or Register(project_id=recorded.payload.project_id, version=0)
    return replace(apply_footprint(register, recorded.payload), version=recorded.version)


class ConflictState(msgspec.Struct, frozen=True, kw_only=True):
    conflict_id: UUID
    project_id: UUID
    older: UUID
    newer: UUID
    rule: str
    severity: str
    facts: ev.ConflictFacts
    facts_hash: str
    version: int
    cleared: bool = False
    decisions: tuple[ev.ConflictResolved, ...] = ()

    @property
    def open(self) -> bool:
        """Open as the register judges it (SIM-08): not cleared, and the latest decision does not accept the
        current facts."""
        latest = self.decisions[-1] if self.decisions else None
        decided = (latest.facts_hash, latest.decision) if latest else None
        return not self.cleared and not accepts(decided, self.facts_hash)


def evolve_conflict(state: ConflictState | None, recorded: Recorded[Any]) -> ConflictState:
    e = recorded.payload
    if isinstance(e, ev.ConflictDetected):
        return ConflictState(
            conflict_id=e.conflict_id,
            project_id=e.project_id,
            older=e.older,
            newer=e.newer,
            rule=e.rule,
            severity=e.severity,
            facts=e.facts,
            facts_hash=e.facts_hash,
            version=recorded.version,
        )
    assert state is not None, "a conflict stream starts with ConflictDetected"
    s = replace(state, version=recorded.version)
    if isinstance(e, ev.ConflictUpdated):
        return replace(s, facts=e.facts, facts_hash=e.facts_hash, severity=e.facts.severity, cleared=False)
    if isinstance(e, ev.ConflictResolved):
        return replace(s, decisions=(*s.decisions, e))
    assert isinstance(e, ev.ConflictCleared)
    return replace(s, cleared=True)
