# ruff: noqa: N802
"""The read side of a zone map or matrix publication (SIM-09): the audit trail shows the publication and what the
register adopted, with summaries (RM-11); the conflict register and the board show the conflicts it re-evaluated
(RM-10, BRD-01). On SQLite and PostgreSQL."""

from __future__ import annotations

from ptw_domain.events.simops import MatrixEntry
from ptw_domain.simops import commands as sc
from ptw_domain.simops.model import DEFAULT_MATRIX
from ptw_projections.audit_trail.query import AuditQuery, list_audit_events
from ptw_projections.board.query import board_at
from ptw_projections.params import parse_query
from ptw_projections.registers.query import conflict_register
from tests.builders import World
from tests.projections.conftest import Projected


def test_SIM_09_RM_11_publications_show_in_the_audit_trail_and_their_conflicts_in_the_registers(
    world: World, projected: Projected
) -> None:
    world.submitted(template="cold-work", area="U100", equipment_tags=("C-1",))
    newer = world.submitted(template="cold-work", area="U200", equipment_tags=("C-2",))
    admin, safe = world.actor("admin"), world.actor("safe")
    world.run(sc.PublishZoneMap(actor=admin, project_id=world.project_id, adjacency={"U100": ("U200",)}))
    reads = projected.catch_up()
    [low] = conflict_register(reads, world.project_id).items
    assert (low.rule, low.severity, low.newer.id) == ("SIM-M00", "low", newer)

    high = MatrixEntry(first="cold_work", second="cold_work", severity="high", rule="SIM-M08")
    world.run(
        sc.PublishSimopsMatrix(
            actor=safe, project_id=world.project_id, entries=(*DEFAULT_MATRIX.entries, high)
        )
    )
    reads = projected.catch_up()
    [found] = conflict_register(reads, world.project_id).items
    assert (found.rule, found.severity, found.state) == ("SIM-M08", "high", "open")
    [cleared] = conflict_register(reads, world.project_id, state="cleared").items
    assert cleared.id == low.id and "matrix v2" in (cleared.cleared_reason or "")
    board = board_at(reads, world.project_id, world.clock.now())
    assert [(c.rule, c.severity) for c in board.open_conflicts] == [("SIM-M08", "high")]

    query = parse_query({"type": "ZoneMapPublished,SimopsMatrixPublished,SimopsMatrixAdopted"}, AuditQuery)
    entries = list_audit_events(reads, world.project_id, query).items
    assert [(e.type, e.stream_type, e.summary) for e in entries] == [
        ("ZoneMapPublished", "project", "Zone map published by admin"),
        ("SimopsMatrixPublished", "project", "Simops matrix published by safe"),
        ("SimopsMatrixAdopted", "simops_register", "Simops matrix adopted by safe"),
    ]
