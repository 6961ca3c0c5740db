# ruff: noqa: N802
"""RM-09 "my tasks": the caller's open tasks (verify, approve, decide extension, acknowledge handover, verify
isolation, resolve conflict, close) with age and SLA (KPI-02/03), for the person named or a role they hold, never
for a person a separation-of-duties rule bars (SOD-01/03/04/05/06/07); time values for an explicit as_of."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.events.handover import HandoverRole
from ptw_domain.handover import commands as hc
from ptw_domain.isolation import commands as ic
from ptw_domain.roles import CompanyKind, Role
from ptw_domain.simops import commands as sc
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide
from ptw_projections.tasks.query import TaskItem, my_tasks
from ptw_projections.verify import verify
from tests.builders import START, World, approve, close, complete
from tests.builders import verify as verify_permit
from tests.projections.conftest import Projected

EVENING = START.replace(hour=18)


def tasks(
    reads: ReadSide,
    world: World,
    person: str,
    *roles: Role,
    as_of: datetime | None = None,
    **kw: Any,
) -> list[TaskItem]:
    """`person`'s tasks, holding `roles` (by default the roles the world gives them), at `as_of` (default now)."""
    held = roles or world.people[person].roles
    page = my_tasks(
        reads,
        world.project_id,
        person_id=person,
        roles=frozenset(held),
        as_of=as_of or world.clock.now(),
        **kw,
    )
    return page.items


def kinds(items: list[TaskItem]) -> list[tuple[str, uuid.UUID]]:
    return [(t.kind, t.permit_id) for t in items]


@pytest.fixture
def electrical(world: World) -> World:
    """Structured isolation (ISO-09): an approved electrical permit has a required point assigned."""
    world.publish_template({"key": "electrical", "category": "electrical"})
    return world


def test_RM_09_KPI_02_the_nominated_verifier_has_the_verify_task_until_verified(
    world: World, projected: Projected
) -> None:
    world.add_person("ver2", Role.VERIFIER, level=2)
    pid = world.submitted()
    reads = projected.catch_up()
    [task] = tasks(reads, world, "ver")
    submitted_at = world.permit(pid).submitted_at
    assert submitted_at is not None
    assert (task.kind, task.permit_id, task.permit_number, task.assigned_to, task.roles) == (
        "verify",
        pid,
        world.permit(pid).number,
        "ver",
        [],
    )
    assert (task.since, task.sla_hours, task.due_at) == (submitted_at, 4, submitted_at + timedelta(hours=4))
    assert tasks(reads, world, "ver2") == []  # named, not open to the role
    assert tasks(reads, world, "app") == []
    world.run(verify_permit(world, pid, approvers=(world.people["app"], world.people["app2"])))
    reads = projected.catch_up()
    assert tasks(reads, world, "ver") == []
    assert kinds(tasks(reads, world, "app")) == [("approve", pid)]


def test_RM_09_KPI_03_each_nominated_approver_has_the_approve_task_until_one_approves(
    world: World, projected: Projected
) -> None:
    world.add_person("app9", Role.APPROVER, level=3)
    pid = world.under_review()
    reads = projected.catch_up()
    verified_at = world.permit(pid).verified_at
    for person in ("app", "app2"):
        [task] = tasks(reads, world, person)
        assert (task.kind, task.assigned_to, task.since, task.sla_hours) == (
            "approve",
            person,
            verified_at,
            4,
        )
    assert tasks(reads, world, "app9") == []  # not nominated
    world.run(approve(world, pid, actor="app2"))
    reads = projected.catch_up()
    assert tasks(reads, world, "app") == [] and tasks(reads, world, "app2") == []  # LIFE-11: first wins


def test_RM_09_SOD_01_the_requestor_or_verifier_never_gets_an_approve_or_verify_task(
    world: World, projected: Projected
) -> None:
    pid = world.under_review()
    reads = projected.catch_up()
    # a verifier later named approver by an admin's reassignment would still be barred: query as such a person
    assert tasks(reads, world, "ver", Role.APPROVER, Role.VERIFIER) == []
    assert tasks(reads, world, "req", Role.APPROVER, Role.VERIFIER, Role.REQUESTOR) == []
    assert kinds(tasks(reads, world, "app")) == [("approve", pid)]


def test_RM_09_KPI_02_age_and_overdue_at_the_SLA_boundary_most_overdue_first(
    world: World, projected: Projected
) -> None:
    world.publish_template({"key": "quick", "category": "cold_work", "verification_sla_hours": 2})
    first = world.submitted()
    world.clock.advance(timedelta(minutes=30))
    second = world.submitted(template="quick")  # due 1.5 h before the first one
    since = world.permit(second).submitted_at
    assert since is not None
    reads = projected.catch_up()
    due = since + timedelta(hours=2)
    before = tasks(reads, world, "ver", as_of=due - timedelta(seconds=1))
    assert [t.permit_id for t in before] == [second, first]
    assert (before[0].sla_hours, before[0].due_at, before[0].overdue, before[0].age_hours) == (
        2,
        due,
        False,
        2.0,
    )
    at = tasks(reads, world, "ver", as_of=due)
    assert (at[0].overdue, at[0].age_hours) == (True, 2.0)  # KPI-02: age >= SLA
    assert (at[1].overdue, at[1].age_hours, at[1].sla_hours) == (False, 2.5, 4)
    later = tasks(reads, world, "ver", as_of=due + timedelta(hours=1, minutes=29))
    assert [(t.overdue, t.age_hours) for t in later] == [(True, 3.5), (False, 4.0)]
    at_first_due = tasks(reads, world, "ver", as_of=since + timedelta(hours=3, minutes=30))
    assert [t.overdue for t in at_first_due] == [True, True]


def test_RM_09_EXT_05_SOD_05_approvers_decide_a_pending_extension_never_its_requester(
    world: World, projected: Projected
) -> None:
    pid = world.active(template="cold-work")
    ext = uuid.uuid4()
    end = world.permit(pid).valid_until + timedelta(hours=1)
    world.run(
        c.RequestExtension(
            actor=world.actor("req"), permit_id=pid, extension_id=ext, requested_end=end, reason="more bolts"
        )
    )
    reads = projected.catch_up()
    for person in ("app", "app2"):
        [task] = tasks(reads, world, person)
        assert (task.kind, task.subject_id, task.roles, task.assigned_to) == (
            "decide_extension",
            ext,
            ["approver"],
            None,
        )
        assert (task.sla_hours, task.due_at, task.overdue) == (None, None, False)
    assert tasks(reads, world, "req", Role.REQUESTOR, Role.APPROVER) == []  # SOD-05
    assert tasks(reads, world, "area") == []
    # EXT-05/08, TIME-05: decided before valid_until; from then on the task is gone, recorded or not
    valid_until = world.permit(pid).valid_until
    assert len(tasks(reads, world, "app", as_of=valid_until - timedelta(seconds=1))) == 1
    assert tasks(reads, world, "app", as_of=valid_until) == []
    world.run(
        c.DecideExtension(
            actor=world.actor("app2"),
            permit_id=pid,
            extension_id=ext,
            approve=True,
            reassessment_confirmed=True,
            signature=world.signature(pid),
        )
    )
    assert tasks(projected.catch_up(), world, "app") == []


def test_RM_09_HOV_04_SOD_07_the_incoming_person_acknowledges_a_handover(
    world: World, projected: Projected
) -> None:
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    pid = world.active(
        template="cold-work",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )
    world.clock.set(EVENING - timedelta(minutes=20))
    handover = hc.RecordHandover(
        actor=world.actor("req"),
        permit_id=pid,
        handover_id=uuid.uuid4(),
        role=HandoverRole.PERFORMING,
        incoming=world.people["req2"],
        notes="Flange bolts torqued to 50 %",
        signature=world.signature(pid),
    )
    world.run(handover)
    reads = projected.catch_up()
    [task] = tasks(reads, world, "req2")
    assert (task.kind, task.subject_id, task.assigned_to, task.since) == (
        "acknowledge_handover",
        handover.handover_id,
        "req2",
        world.clock.now(),
    )
    assert tasks(reads, world, "req") == []  # the outgoing person (SOD-07)
    world.run(
        hc.AcknowledgeHandover(
            actor=world.actor("req2"),
            permit_id=pid,
            handover_id=handover.handover_id,
            signature=world.signature(pid),
        )
    )
    assert tasks(projected.catch_up(), world, "req2") == []


def live_over_evening(world: World) -> uuid.UUID:
    """A cold-work permit active from about 08:30 until 21:00, so live at the 18:00 boundary."""
    return world.active(
        template="cold-work",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )


def reviews(reads: ReadSide, world: World, person: str = "area", **kw: Any) -> list[TaskItem]:
    return tasks(reads, world, person, kind="review_missed_handover", **kw)


def suspend(world: World, pid: uuid.UUID) -> None:
    world.run(
        c.SuspendPermit(actor=world.actor("safe"), permit_id=pid, reason_code="manual", text="Unit upset")
    )


def test_RM_09_HOV_03_the_area_authority_reviews_a_handover_missed_on_a_suspended_permit(
    world: World, projected: Projected
) -> None:
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    suspended = live_over_evening(world)
    active = live_over_evening(world)
    world.clock.set(EVENING - timedelta(hours=1))
    suspend(world, suspended)
    world.clock.set(EVENING + timedelta(hours=1))
    world.service.run_sweep()  # both miss 18:00; only the active one is suspended by the miss
    assert world.permit(active).status == "suspended"  # by the miss itself: resumed through HOV-04, no alert
    reads = projected.catch_up()
    [task] = reviews(reads, world)
    assert (task.kind, task.permit_id, task.subject_id, task.assigned_to, task.roles) == (
        "review_missed_handover",
        suspended,
        suspended,
        None,
        ["area_authority"],
    )
    grace_end = EVENING + timedelta(minutes=30)
    assert (task.since, task.age_hours, task.sla_hours, task.due_at) == (grace_end, 0.5, None, None)
    assert reviews(reads, world, "app") == [] and reviews(reads, world, "safe") == []  # the area authority's
    late = hc.RecordHandover(
        actor=world.actor("req"),
        permit_id=suspended,
        handover_id=uuid.uuid4(),
        role=HandoverRole.PERFORMING,
        incoming=world.people["req2"],
        notes="Unit upset; restart after the inspection",
        signature=world.signature(suspended),
    )
    world.run(late)
    assert kinds(reviews(projected.catch_up(), world)) == [("review_missed_handover", suspended)]
    world.run(
        hc.AcknowledgeHandover(
            actor=world.actor("req2"),
            permit_id=suspended,
            handover_id=late.handover_id,
            signature=world.signature(suspended),
        )
    )
    assert reviews(projected.catch_up(), world) == []  # HOV-04: the miss is cleared


def test_RM_09_HOV_03_the_review_ends_when_the_permit_leaves_suspended_or_expires(
    world: World, projected: Projected
) -> None:
    handed_back, expiring = live_over_evening(world), live_over_evening(world)
    world.clock.set(EVENING - timedelta(hours=1))
    suspend(world, handed_back)
    suspend(world, expiring)
    world.clock.set(EVENING + timedelta(hours=1))
    world.service.run_sweep()
    reads = projected.catch_up()
    assert sorted(kinds(reviews(reads, world))) == sorted(
        [("review_missed_handover", handed_back), ("review_missed_handover", expiring)]
    )
    world.run(complete(world, handed_back))  # T17: handed back from suspended
    reads = projected.catch_up()
    assert kinds(reviews(reads, world)) == [("review_missed_handover", expiring)]
    valid_until = world.permit(expiring).valid_until
    assert reviews(reads, world, as_of=valid_until) == []  # ends at expiry, recorded or not


def test_RM_09_ISO_07_SOD_03_an_isolation_is_verified_by_an_isolating_authority_or_PA_not_its_isolator(
    electrical: World, projected: Projected
) -> None:
    world = electrical
    pid = world.approved(template="electrical")
    isolation_id = world.permit(pid).isolations.assignments[0].isolation_id
    reads = projected.catch_up()
    assert tasks(reads, world, "iso2") == []  # assigned, not yet isolated
    world.clock.advance(timedelta(minutes=10))
    world.run(
        ic.IsolatePoint(
            actor=world.actor("iso"),
            isolation_id=isolation_id,
            lock_ids=("L-1",),
            tag="DANGER DO NOT OPERATE",
            method="breaker racked out, locked, tagged",
            achieved_category="I",
            isolated_at=world.clock.now(),
            isolator_worker_id=world.workers["iso"],
        )
    )
    reads = projected.catch_up()
    [task] = tasks(reads, world, "iso2")
    assert (task.kind, task.subject_id, task.permit_id, task.roles, task.since) == (
        "verify_isolation",
        isolation_id,
        pid,
        ["isolating_authority"],
        world.clock.now(),
    )
    assert tasks(reads, world, "iso") == []  # SOD-03: the isolator
    assert kinds(tasks(reads, world, "req")) == [("verify_isolation", pid)]  # the PA of a linked permit
    assert tasks(reads, world, "app") == []
    world.run(
        ic.VerifyIsolation(
            actor=world.actor("iso2"),
            isolation_id=isolation_id,
            method="test_for_dead",
            passed=True,
            verified_at=world.clock.now(),
        )
    )
    reads = projected.catch_up()
    assert tasks(reads, world, "iso2") == [] and tasks(reads, world, "req") == []


def test_RM_09_SIM_08_SOD_06_an_open_conflict_is_resolved_by_area_authority_or_safety_officer(
    world: World, projected: Projected
) -> None:
    world.publish_template({"key": "tank", "category": "confined_space"})
    world.submitted(template="tank", area="U100")
    world.clock.advance(timedelta(minutes=5))
    newer = world.submitted(area="U100")
    reads = projected.catch_up()
    [task] = tasks(reads, world, "area")
    assert (task.kind, task.permit_id, task.roles) == (
        "resolve_conflict",
        newer,
        ["area_authority", "safety_officer"],
    )
    assert kinds(tasks(reads, world, "safe")) == [("resolve_conflict", newer)]
    # SOD-06: the newer permit's verifier, even holding the role, is barred
    assert tasks(reads, world, "ver", Role.AREA_AUTHORITY, kind="resolve_conflict") == []
    assert tasks(reads, world, "app") == []
    world.run(
        sc.ResolveConflict(
            actor=world.actor("area"),
            conflict_id=task.subject_id,
            decision="accept_with_controls",
            controls="Fire blanket over the manway",
        )
    )
    assert tasks(projected.catch_up(), world, "safe") == []


def test_RM_09_SOD_04_close_appears_once_the_close_guards_pass_never_for_the_hand_back_parties(
    world: World, projected: Projected
) -> None:
    pid = world.completed()  # hot work: the fire watch runs first (CLO-07)
    reads = projected.catch_up()
    assert tasks(reads, world, "app") == [] and tasks(reads, world, "area") == []
    world.clock.advance(timedelta(minutes=45))
    world.complete_fire_watch(pid)
    reads = projected.catch_up()
    hand_back = world.permit(pid).hand_back
    assert hand_back is not None
    for person in ("app", "area"):
        [task] = tasks(reads, world, person)
        assert (task.kind, task.permit_id, task.roles, task.since) == (
            "close",
            pid,
            ["approver", "area_authority"],
            hand_back.at,
        )
    assert tasks(reads, world, "req", Role.REQUESTOR, Role.AREA_AUTHORITY) == []  # SOD-04
    world.run(close(world, pid))
    assert tasks(projected.catch_up(), world, "area") == []


def test_RM_09_the_kind_filter_and_paging(world: World, projected: Projected) -> None:
    world.add_person("boss", Role.VERIFIER, Role.APPROVER, level=3)
    submitted = world.submitted()
    world.clock.advance(timedelta(minutes=1))
    reviewed = world.under_review()
    reads = projected.catch_up()
    assert kinds(tasks(reads, world, "ver")) == [("verify", submitted)]
    assert kinds(tasks(reads, world, "app", kind="approve")) == [("approve", reviewed)]
    assert tasks(reads, world, "app", kind="verify") == []
    page = my_tasks(
        reads, world.project_id, person_id="ver", roles=["verifier"], as_of=world.clock.now(), page_size=1
    )
    assert (page.total, page.page, page.page_size, len(page.items)) == (1, 1, 1, 1)
    assert page.as_of_position > 0
    second = my_tasks(
        reads,
        world.project_id,
        person_id="ver",
        roles="verifier",
        as_of=world.clock.now(),
        page=2,
        page_size=1,
    )
    assert (second.total, second.items) == (1, [])


def test_RM_09_TEN_02_another_projects_tasks_never_appear(world: World, projected: Projected) -> None:
    north = world
    south = World.create(north.service, north.clock, code="SOUTH")
    theirs = south.submitted()
    ours = north.submitted()
    reads = projected.catch_up()
    assert kinds(tasks(reads, north, "ver")) == [("verify", ours)]
    assert kinds(tasks(reads, south, "ver")) == [("verify", theirs)]


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (
            lambda r, w: my_tasks(
                r, w.project_id, person_id="ver", roles=[], as_of=w.clock.now(), kind="sign"
            ),
            "kind",
        ),
        (
            lambda r, w: my_tasks(r, w.project_id, person_id="ver", roles=["boss"], as_of=w.clock.now()),
            "roles",
        ),
        (lambda r, w: my_tasks(r, w.project_id, person_id=" ", roles=[], as_of=w.clock.now()), "person_id"),
        (
            lambda r, w: my_tasks(
                r, w.project_id, person_id="ver", roles=[], as_of=datetime(2026, 11, 25, 8)
            ),
            "as_of",
        ),
        (
            lambda r, w: my_tasks(
                r, w.project_id, person_id="ver", roles=[], as_of=w.clock.now(), page_size=0
            ),
            "page_size",
        ),
        (
            lambda r, w: my_tasks(r, w.project_id, person_id="ver", roles=[], as_of=w.clock.now(), page=0),
            "page",
        ),
    ],
)
def test_RM_09_bad_input_names_the_parameter(
    world: World, projected: Projected, call: Callable[[ReadSide, World], Any], parameter: str
) -> None:
    reads = projected.catch_up()
    with pytest.raises(InvalidQuery) as error:
        call(reads, world)
    assert error.value.parameter == parameter


def test_AUD_07_a_rebuild_of_the_tasks_equals_the_live_tables(world: World, projected: Projected) -> None:
    world.publish_template({"key": "tank", "category": "confined_space"})
    world.publish_template({"key": "electrical", "category": "electrical"})
    world.submitted(template="tank", area="U100")
    world.under_review(area="U100")
    iso_permit = world.approved(template="electrical")
    world.isolate_and_verify(iso_permit)
    closing = world.completed(template="cold-work")
    projected.catch_up()
    world.clock.advance(timedelta(minutes=10))
    world.run(close(world, closing))
    world.run(complete(world, world.active(template="cold-work")))
    projected.catch_up()
    result = verify(projected.runner("tasks"))
    assert result.ok, result.differences
    assert result.rows_compared > 0
