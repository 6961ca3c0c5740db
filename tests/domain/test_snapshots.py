"""Snapshots of long streams (permit every 50 events, project every 100) are taken and read back on every backend,
whatever the state holds: briefings and gas sessions keyed by id, numbering by year, isolations by permit.

A regression test: the first versions encoded snapshots canonically, which only takes string keys, and so failed
at the 50th event of a permit with briefings and the 100th event of a project."""

from __future__ import annotations

from ptw_domain import commands as c
from ptw_domain.store.streams import fold
from tests.builders import World


def loaded_from_snapshot(world: World, stream_id: object, version: int) -> object:
    store = world.service.store
    assert store.snapshots is not None
    snapshot = list(store.snapshots.get(stream_id, desc=True, limit=1))  # type: ignore[arg-type]
    assert snapshot and snapshot[0].version == version
    return store.repository.get(stream_id, version=version, projector_func=fold).state  # type: ignore[arg-type]


def test_a_permit_with_people_gas_and_isolation_is_snapshotted_at_50_events(world: World) -> None:
    world.publish_template({"key": "tank", "category": "confined_space"})
    pid = world.approved(template="tank", emergency_arrangements="Rescue team on standby")
    world.prepare_crew(pid)
    while world.permit(pid).version < 50:
        world.run(
            c.EditPermit(
                actor=world.actor("req"),
                permit_id=pid,
                changes=c.PermitChanges(notes=f"note {world.permit(pid).version}"),
            )
        )
    state = world.permit(pid)
    assert state.people.briefings and state.gas.readings and state.isolations.assignments
    assert loaded_from_snapshot(world, pid, 50) == state


def test_a_project_is_snapshotted_at_100_events(world: World) -> None:
    while world.service.project(world.project_id).version < 100:
        world.draft(template="cold-work")
    project = world.service.project(world.project_id)
    assert loaded_from_snapshot(world, world.project_id, 100) == project
    assert project.sequences == {2026: 99}
