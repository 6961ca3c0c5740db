# ruff: noqa: N802
"""The readiness read model (ADR 0014): each permit's next action, whether readiness allows it and its blockers,
kept by the domain's own evaluation (RDY-01) and good only until its time boundary (TIME-05). The list filters
`ready_for`, `blocked` and `blocked_by` read it; equivalence with the live `PermitService.readiness` is checked
for every permit of random histories, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.people import commands as pc
from ptw_domain.permit.outlook import next_action
from ptw_domain.permit.readiness import Readiness
from ptw_projections.database import open_read_database
from ptw_projections.errors import InvalidQuery
from ptw_projections.params import parse_query
from ptw_projections.permit_list.query import PermitListItem, PermitQuery, list_permits
from ptw_projections.reader import ReadSide
from ptw_projections.readiness.query import ReadinessSummary
from ptw_projections.registry import projections
from ptw_projections.runner import Runner
from ptw_projections.verify import verify
from tests.builders import World, cancel, nominate
from tests.domain.test_properties import PermitMachine
from tests.projections.conftest import Projected, run_machine


def items(projected: Projected, world: World, *, as_of: datetime | None = None, **query: Any) -> list[Any]:
    reads = projected.catch_up()
    page = list_permits(
        reads,
        world.project_id,
        parse_query({"page_size": 100, **query}, PermitQuery),
        as_of=as_of or world.clock.now(),
    )
    return page.items


def ids(projected: Projected, world: World, **query: Any) -> set[uuid.UUID]:
    return {item.id for item in items(projected, world, **query)}


def outlook_of(projected: Projected, world: World, pid: uuid.UUID, as_of: datetime | None = None) -> Any:
    [item] = [i for i in items(projected, world, as_of=as_of) if i.id == pid]
    return item.readiness


def agrees(summary: ReadinessSummary, live: Readiness) -> None:
    """The stored outlook says what the live evaluation says of the next action (RDY-01, RDY-02)."""
    action = next_action(live.effective_status)
    assert summary.next_action == action
    if action is None:
        assert (summary.allowed, summary.blockers) == (False, [])
        return
    verdict = live.actions[action]
    rules = [b.rule for b in verdict.blockers]
    assert (summary.allowed, summary.blocker_count) == (verdict.allowed, len(rules))
    assert summary.blockers == list(dict.fromkeys(rules))


# --- the filters, with the clock under control ---------------------------------------------------------------


def test_RDY_01_ready_for_submit_once_a_verifier_is_nominated(projected: Projected, world: World) -> None:
    pid = world.draft()
    assert pid not in ids(projected, world, ready_for="submit")
    assert ids(projected, world, blocked_by="LIFE-08") == {pid}
    world.run(nominate(world, pid))
    assert ids(projected, world, ready_for="submit") == {pid}
    assert ids(projected, world, blocked_by="LIFE-08") == set()
    agrees(outlook_of(projected, world, pid), world.service.readiness(pid))


def test_RDY_02_blocked_true_and_false_split_the_permits_waiting_on_an_action(
    projected: Projected, world: World
) -> None:
    waiting = world.draft()  # LIFE-08: no verifier nominated
    submitted = world.submitted()
    cancelled = world.draft()
    world.run(cancel(world, cancelled))
    assert ids(projected, world, blocked=True) == {waiting}
    assert ids(projected, world, blocked=False) == {submitted}
    assert ids(projected, world, ready_for="verify") == {submitted}
    closed_out = outlook_of(projected, world, cancelled)
    assert (closed_out.current, closed_out.next_action, closed_out.holds_until) == (True, None, None)


def test_TIME_05_a_stored_outlook_past_its_boundary_is_stale_not_current(
    projected: Projected, world: World
) -> None:
    """Ready to activate now; from its `holds_until` on (here the gas test goes stale, GAS-08) the stored answer
    is reported stale and no filter matches it, until a new event re-evaluates the permit."""
    pid = world.approved()
    world.clock.advance(timedelta(minutes=30))  # the activation window is open (60 min before the start)
    world.prepare_crew(pid)
    assert ids(projected, world, ready_for="activate") == {pid}
    summary = outlook_of(projected, world, pid)
    agrees(summary, world.service.readiness(pid))
    assert summary.holds_until == world.clock.now() + timedelta(minutes=60)  # GAS-08: gas_validity_minutes
    world.clock.advance(summary.holds_until - world.clock.now())
    assert pid not in ids(projected, world, ready_for="activate")
    assert pid not in ids(projected, world, blocked=True) | ids(projected, world, blocked=False)
    stale = outlook_of(projected, world, pid)
    assert (stale.current, stale.next_action, stale.allowed, stale.blocker_count) == (False, None, None, None)
    world.gas_test(pid)  # a new event: evaluated again at its instant
    agrees(outlook_of(projected, world, pid), world.service.readiness(pid))


def test_TIME_05_an_as_of_before_the_evaluation_is_not_answered_from_it(
    projected: Projected, world: World
) -> None:
    pid = world.draft()
    before = outlook_of(projected, world, pid, as_of=world.clock.now() - timedelta(minutes=1))
    assert before.current is False
    assert pid not in ids(projected, world, as_of=world.clock.now() - timedelta(minutes=1), blocked=True)


def test_COMP_04_a_revoked_competency_reevaluates_the_permits_that_rely_on_it(
    projected: Projected, world: World
) -> None:
    pid = world.approved()
    world.prepare_crew(pid)
    assert ids(projected, world, ready_for="activate") == {pid}
    crew = world.workers["crew1"]
    [record] = [r for r in world.service.worker(crew).competencies if r.code == "hot_work"]
    world.run(
        pc.RevokeCompetency(
            actor=world.actor("admin", org_admin=True),
            worker_id=crew,
            competency_id=record.competency_id,
            reason="certificate withdrawn",
        )
    )
    assert pid in ids(projected, world, blocked_by="COMP-04")
    assert pid not in ids(projected, world, ready_for="activate")
    agrees(outlook_of(projected, world, pid), world.service.readiness(pid))


def test_TPL_01_retiring_a_template_blocks_the_submission_of_its_drafts(
    projected: Projected, world: World
) -> None:
    pid = world.draft(template="cold-work")
    world.run(nominate(world, pid))
    assert ids(projected, world, ready_for="submit") == {pid}
    world.run(
        c.RetireTemplate(
            actor=world.actor("admin", org_admin=True), organisation_id=world.organisation_id, key="cold-work"
        )
    )
    assert ids(projected, world, blocked_by="TPL-01") == {pid}
    agrees(outlook_of(projected, world, pid), world.service.readiness(pid))


def test_LIFE_06_a_settings_change_reevaluates_the_project_s_permits(
    projected: Projected, world: World
) -> None:
    """A planning horizon shortened below the planned start blocks submission; the boundary is when the start
    comes within the horizon again."""
    start = world.clock.now() + timedelta(days=3)
    pid = world.draft(planned_start=start, planned_end=start + timedelta(hours=4))
    world.run(nominate(world, pid))
    assert ids(projected, world, ready_for="submit") == {pid}
    world.change_settings(planning_horizon_days=1)
    assert ids(projected, world, blocked_by="LIFE-06") == {pid}
    summary = outlook_of(projected, world, pid)
    assert summary.holds_until == start - timedelta(days=1)
    agrees(summary, world.service.readiness(pid))


def test_SIM_06_a_conflict_with_an_older_permit_blocks_the_newer_one_s_approval(
    projected: Projected, world: World
) -> None:
    world.publish_template({"key": "tank", "category": "confined_space"})
    older = world.submitted(template="tank", area="U100")
    world.clock.advance(timedelta(minutes=5))
    newer = world.under_review(area="U100")
    assert newer in ids(projected, world, blocked_by="SIM-06")
    for pid in (older, newer):
        agrees(outlook_of(projected, world, pid), world.service.readiness(pid))
    world.run(cancel(world, older, reason="work moved"))  # its footprint leaves the register: re-evaluated
    assert newer not in ids(projected, world, blocked_by="SIM-06")
    agrees(outlook_of(projected, world, newer), world.service.readiness(newer))


def test_AUD_07_the_readiness_read_model_equals_a_fresh_replay(projected: Projected, world: World) -> None:
    """Rebuilt event by event and verified row by row against the live generation built in batches."""
    approved = world.approved()
    world.prepare_crew(approved)
    world.submitted(area="A1")
    world.change_settings(planning_horizon_days=10)
    world.clock.advance(timedelta(hours=2))
    world.gas_test(approved)
    projected.catch_up()
    runner = projected.runner("readiness")
    assert verify(runner).ok
    runner.batch_size = 1
    runner.rebuild()
    result = verify(runner)
    assert result.ok, result.differences


@pytest.mark.parametrize(
    ("parameter", "value"), [("ready_for", "launch"), ("blocked_by", "XYZ-99"), ("blocked", "perhaps")]
)
def test_RDY_02_an_unknown_readiness_filter_value_is_refused_naming_it(
    projected: Projected, world: World, parameter: str, value: str
) -> None:
    with pytest.raises(InvalidQuery) as refused:
        items(projected, world, **{parameter: value})
    assert refused.value.parameter == parameter


# --- equivalence with the live readiness, and rebuilds, over random histories -------------------------------


class OutlookMachine(PermitMachine):
    """The lifecycle machine's random histories; at the end every permit's stored outlook must agree with the
    live readiness at the final position, and hold (the same answer) up to its boundary."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self.db = open_read_database(database_url, pool_size=2)

    def teardown(self) -> None:
        try:
            runners = [Runner(self.service.store, self.db, p, batch_size=7) for p in projections()]
            for runner in runners:
                runner.catch_up(runner.live_generation())
            now = self.clock.now()
            page = list_permits(
                ReadSide(self.db), self.world.project_id, PermitQuery(page_size=100), as_of=now
            )
            assert len(page.items) == len(self.permits)
            for item in page.items:
                self._check(item, now)
        finally:
            self.db.dispose()
            super().teardown()

    def _check(self, item: PermitListItem, now: datetime) -> None:
        summary = item.readiness
        assert summary is not None
        if summary.current:
            agrees(summary, self.service.readiness(item.id))
        else:
            assert summary.holds_until is not None and summary.holds_until <= now
        for instant in _instants_held(summary):  # the answer holds over [evaluated_at, holds_until)
            held = list_permits(
                ReadSide(self.db), self.world.project_id, PermitQuery(page_size=100), as_of=instant
            )
            stored = next(i.readiness for i in held.items if i.id == item.id)
            assert stored is not None and stored.current
            agrees(stored, self.service.readiness(item.id, at=instant))

    # The domain invariants are test_properties' business (same names, no @invariant: switched off here).
    def statuses_follow_the_transition_table(self) -> None:
        pass

    def replay_equals_live(self) -> None:
        pass

    def every_chain_verifies(self) -> None:
        pass


def _instants_held(summary: ReadinessSummary) -> Iterator[datetime]:
    yield summary.evaluated_at
    if summary.holds_until is not None:
        yield summary.holds_until - timedelta(microseconds=1)
    else:
        yield summary.evaluated_at + timedelta(days=400)


def test_RDY_01_every_stored_outlook_equals_the_live_readiness_on_sqlite(tmp_path: Path) -> None:
    run_machine(lambda: OutlookMachine(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"), examples=10, steps=25)


@pytest.mark.postgres
def test_RDY_01_every_stored_outlook_equals_the_live_readiness_on_postgres(
    fresh_postgres_url: Callable[[], str],
) -> None:
    run_machine(lambda: OutlookMachine(fresh_postgres_url()), examples=3, steps=20)
