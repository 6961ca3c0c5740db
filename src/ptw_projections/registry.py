"""Every projection ptw maintains, by name (the names `ptw projections …` takes)."""

from __future__ import annotations

from collections.abc import Callable

from ptw_projections.audit_trail.projection import AuditTrail
from ptw_projections.board.projection import Board
from ptw_projections.kpis.projection import Kpis
from ptw_projections.permit_list.projection import PermitList
from ptw_projections.projection import Projection
from ptw_projections.readiness.projection import Readiness
from ptw_projections.registers.projection import Registers
from ptw_projections.sync_ledger.projection import SyncLedger
from ptw_projections.tasks.projection import Tasks

PROJECTIONS: dict[str, Callable[[], Projection]] = {
    PermitList.name: PermitList,
    AuditTrail.name: AuditTrail,
    Board.name: Board,
    Registers.name: Registers,
    Kpis.name: Kpis,
    Tasks.name: Tasks,
    Readiness.name: Readiness,
    SyncLedger.name: SyncLedger,
}


def projections(names: list[str] | None = None) -> list[Projection]:
    """Fresh projection objects (each keeps caches, so each runner gets its own)."""
    chosen = names or list(PROJECTIONS)
    unknown = [n for n in chosen if n not in PROJECTIONS]
    if unknown:
        raise KeyError(f"unknown projection {', '.join(unknown)}; known: {', '.join(PROJECTIONS)}")
    return [PROJECTIONS[n]() for n in chosen]
