"""Issue 5 / ADR 0017: commands decided in an event loop and appended together (PostgreSQL).

`GroupCommit` writes the appends waiting at one moment in one call of the append function; each command's events
stay atomic and a stale one is refused alone. `PermitService.execute_cached` decides on the cache and records
through it, or records nothing and says so (None) whenever the store must be read first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_domain.store.group_commit import GroupCommit
from ptw_domain.store.postgres import AppendFunctionRecorder
from tests.builders import World, edit

pytestmark = pytest.mark.postgres


@pytest.fixture
def world(postgres_url: str, clock: ManualClock) -> Iterator[World]:
    service = PermitService(postgres_url, clock=clock)
    yield World.create(service, clock)
    service.close()


def group_of(service: PermitService) -> GroupCommit:
    recorder = service.store.recorder
    assert isinstance(recorder, AppendFunctionRecorder)
    return GroupCommit(recorder)


def event(stream: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=version, topic="test:Appended", state=b"{}")


def stored(service: PermitService, stream: uuid.UUID) -> list[int]:
    return [e.originator_version for e in service.store.recorder.select_events(stream)]


def notification_ids(service: PermitService, stream: uuid.UUID) -> dict[int, int]:
    """version -> notification id, as the store has them."""
    rows = service.store.recorder.select_notifications(start=0, limit=10**6)
    return {r.originator_version: r.id for r in rows if r.originator_id == stream}


def test_appends_waiting_together_are_written_together_each_getting_its_own_ids(world: World) -> None:
    streams = [uuid.uuid4() for _ in range(12)]

    async def run() -> list[list[int]]:
        group = group_of(world.service)
        try:
            return list(await asyncio.gather(*(group.append([event(s, 1), event(s, 2)]) for s in streams)))
        finally:
            await group.close()

    answers = asyncio.run(run())
    for stream, ids in zip(streams, answers, strict=True):
        assert stored(world.service, stream) == [1, 2]
        recorded = notification_ids(world.service, stream)
        assert ids == [recorded[1], recorded[2]]  # each command is told where its own events are
    every = [i for ids in answers for i in ids]
    assert len(set(every)) == len(every) == 24


def test_a_stale_append_is_refused_alone_and_the_others_in_its_batch_are_kept(world: World) -> None:
    taken = uuid.uuid4()
    world.service.store.recorder.insert_events([event(taken, 1)])
    fresh = [uuid.uuid4() for _ in range(5)]

    async def run() -> list[list[int] | BaseException]:
        group = group_of(world.service)
        try:
            appends = [group.append([event(s, 1)]) for s in fresh]
            appends.insert(2, group.append([event(taken, 1), event(taken, 2)]))  # decided on a stale version
            return list(await asyncio.gather(*appends, return_exceptions=True))
        finally:
            await group.close()

    answers = asyncio.run(run())
    assert isinstance(answers[2], IntegrityError)
    assert stored(world.service, taken) == [1]  # nothing of the refused command, version 2 included
    for stream in fresh:
        assert stored(world.service, stream) == [1]


def test_two_commands_on_one_version_keep_one(world: World) -> None:
    """Decided on the same cached version in one loop: the batch cannot hold both, one is kept."""
    stream = uuid.uuid4()

    async def run() -> list[list[int] | BaseException]:
        group = group_of(world.service)
        try:
            return list(
                await asyncio.gather(
                    group.append([event(stream, 1)]), group.append([event(stream, 1)]), return_exceptions=True
                )
            )
        finally:
            await group.close()

    answers = asyncio.run(run())
    assert sum(isinstance(a, IntegrityError) for a in answers) == 1
    assert stored(world.service, stream) == [1]


def test_a_command_decided_on_the_cache_is_recorded_as_execute_records_it(world: World) -> None:
    world.submitted(area="elsewhere")  # the project's SIMOPS register exists (every permit decision reads it)
    pid = world.draft()
    world.run(edit(world, pid, notes="cached"))  # this service now holds the permit and the register

    async def run() -> object:
        group = group_of(world.service)
        try:
            return await world.service.execute_cached(
                edit(world, pid, notes="from the loop"), within=world.project_id, group=group
            )
        finally:
            await group.close()

    result = asyncio.run(run())
    assert result is not None
    history = world.service.history(pid)
    assert [e.version for e in history] == list(range(1, len(history) + 1))
    assert (history[-1].type, world.service.permit(pid).content.notes) == ("PermitEdited", "from the loop")
    assert result.version == history[-1].version  # type: ignore[attr-defined]
    assert result.position == world.service.store.head_position()  # type: ignore[attr-defined]
    assert all(verdict.ok for verdict in world.service.verify_chain([pid]))  # AUD-04: the hash chain holds


@pytest.mark.parametrize("why", ["not cached", "stale", "refused"])
def test_what_needs_the_store_is_left_to_execute_with_nothing_recorded(
    world: World, postgres_url: str, clock: ManualClock, why: str
) -> None:
    """None means: nothing recorded, run `execute` — for a permit this service never read, one another
    process has moved past the cached version of, or a refusal that must be confirmed on fresh streams."""
    world.submitted(area="elsewhere")  # the register exists: only `why` stands in the way
    pid = world.draft()
    world.run(edit(world, pid, notes="A"))
    other = PermitService(postgres_url, clock=clock)
    try:
        service = world.service
        command: c.Command = edit(world, pid, notes="B")
        if why == "not cached":
            service = other
        elif why == "stale":
            other.execute(edit(world, pid, notes="elsewhere"))
        else:
            command = c.WithdrawPermit(
                actor=world.actor("req"), permit_id=pid
            )  # a draft has nothing to withdraw
        before = len(other.history(pid))

        async def run() -> object:
            group = group_of(service)
            try:
                return await service.execute_cached(command, within=world.project_id, group=group)
            finally:
                await group.close()

        assert asyncio.run(run()) is None
        assert len(other.history(pid)) == before
    finally:
        other.close()


def test_a_store_that_fails_the_append_leaves_the_command_to_execute(world: World) -> None:
    """The group's connection gone (here: the group closed): nothing recorded, None, and `execute` (with its
    retries and its errors) answers the command instead."""
    world.submitted(area="elsewhere")
    pid = world.draft()
    world.run(edit(world, pid, notes="cached"))
    before = len(world.service.history(pid))

    async def run() -> object:
        group = group_of(world.service)
        await group.close()
        return await world.service.execute_cached(
            edit(world, pid, notes="unreachable"), within=world.project_id, group=group
        )

    assert asyncio.run(run()) is None
    assert len(world.service.history(pid)) == before
    world.run(edit(world, pid, notes="unreachable"))  # the threaded path records it
    assert world.service.permit(pid).content.notes == "unreachable"


def edits_in_the_loop(world: World, pid: uuid.UUID, start: int, until: int) -> list[object]:
    """Edits `loop start` … `loop until-1` of the permit, one after another through one group, as the event loop
    runs them; each one's result (None: left to `execute`)."""

    async def run() -> list[object]:
        group = group_of(world.service)
        try:
            return [
                await world.service.execute_cached(
                    edit(world, pid, notes=f"loop {n}"), within=world.project_id, group=group
                )
                for n in range(start, until)
            ]
        finally:
            await group.close()

    return asyncio.run(run())


def test_a_snapshot_due_is_taken_after_the_append_and_loads_as_the_stream(
    world: World, postgres_url: str, clock: ManualClock
) -> None:
    """The loop's path takes the permit's snapshot at its interval (every 50 versions) as `save` does, after
    the events are recorded, instead of leaving the command to the threaded path."""
    world.submitted(area="elsewhere")
    pid = world.draft()
    world.run(edit(world, pid, notes="cached"))
    start = len(world.service.history(pid))

    # every one recorded in the loop, the 50th included
    assert None not in edits_in_the_loop(world, pid, start, 52)
    assert len(world.service.history(pid)) == 52
    snapshots = world.service.store.snapshots
    assert snapshots is not None
    assert [s.originator_version for s in snapshots.get(pid)] == [50]
    fresh = PermitService(postgres_url, clock=clock)  # loads from the snapshot and the two events after it
    try:
        assert fresh.permit(pid) == world.service.permit(pid)
        assert fresh.permit(pid).content.notes == "loop 51"
    finally:
        fresh.close()


def test_a_snapshot_that_cannot_be_written_leaves_the_command_recorded_once(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The events are committed before the snapshot is written: a failing snapshot store (the library's, made to
    fail here) is logged and the command answered as recorded, never handed to `execute` to be recorded again."""
    world.submitted(area="elsewhere")
    pid = world.draft()
    world.run(edit(world, pid, notes="cached"))
    start = len(world.service.history(pid))
    snapshots = world.service.store.snapshots
    assert snapshots is not None

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise PersistenceError("the snapshot table is out of reach")

    monkeypatch.setattr(snapshots, "put", unreachable)

    with caplog.at_level(logging.WARNING, logger="ptw.store"):
        assert None not in edits_in_the_loop(world, pid, start, 50)
    history = world.service.history(pid)
    assert [e.version for e in history] == list(range(1, 51))  # each edit recorded once, the 50th included
    assert world.service.permit(pid).content.notes == "loop 49"
    assert "no snapshot taken after an append" in caplog.text
    monkeypatch.undo()
    assert list(snapshots.get(pid)) == []
