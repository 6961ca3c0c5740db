# ruff: noqa: N802
"""KPIs (KPI-01..13) and compliance reports (RPT-01..04) at an explicit as_of (TIME-05) with the thresholds at
their boundaries, RM-01 filters, tenancy (TEN-02), RPT-01 windows of whole project days, and refusals naming the
parameter (InvalidQuery)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace

from ptw_domain import commands as c
from ptw_domain.events.handover import HandoverRole
from ptw_domain.events.permit import SuspensionReason
from ptw_domain.handover import commands as hc
from ptw_domain.isolation import commands as ic
from ptw_domain.permit.status import Status
from ptw_domain.records import commands as rc
from ptw_domain.roles import CompanyKind, Role
from ptw_domain.simops import commands as sc
from ptw_projections.errors import InvalidQuery
from ptw_projections.kpis.query import (
    ComplianceExceptions,
    ComplianceSummary,
    KpiFilters,
    KpiReport,
    compliance_exceptions,
    compliance_summary,
    kpis,
)
from ptw_projections.params import parse_query
from tests.builders import START, World, activate, amend, approve, cancel, complete, lock_exception, verify
from tests.domain.test_lock_ownership import on_isolation
from tests.projections.conftest import Projected

SECOND = timedelta(seconds=1)
EVENING = START.replace(hour=18)  # a shift boundary (06:00 and 18:00 UTC by default)

PERIODIC = {
    "key": "hot-work-periodic",
    "category": "hot_work",
    "name": "Hot work with periodic gas tests",
    "mandatory_ppe": ["Welding gloves"],
    "safety_checklist": ["Combustibles removed", {"key": "extinguisher", "label": "Extinguisher at hand"}],
    "periodic_gas_testing": True,
    "retest_interval_minutes": 60,
}


def report(projected: Projected, world: World, *, as_of: datetime | None = None, **query: Any) -> KpiReport:
    """The KPIs of `world`'s project after catching up, at `as_of` (default the clock's now); `query` holds the
    filters and the thresholds (expiring_soon_hours, window_days, list_size)."""
    reads = projected.catch_up()
    limits = {k: query.pop(k) for k in ("expiring_soon_hours", "window_days", "list_size") if k in query}
    return kpis(
        reads,
        world.project_id,
        as_of=as_of or world.clock.now(),
        filters=parse_query(query, KpiFilters),
        **limits,
    )


def summary(
    projected: Projected, world: World, *, as_of: datetime | None = None, **kw: Any
) -> ComplianceSummary:
    return compliance_summary(projected.catch_up(), world.project_id, as_of=as_of or world.clock.now(), **kw)


def exceptions(
    projected: Projected, world: World, *, as_of: datetime | None = None, **kw: Any
) -> ComplianceExceptions:
    return compliance_exceptions(
        projected.catch_up(), world.project_id, as_of=as_of or world.clock.now(), **kw
    )


def opened_in(world: World, time_zone: str, code: str) -> World:
    """A second project of the world's organisation in `time_zone`, with the same people and templates."""
    project_id = uuid.uuid4()
    world.run(
        c.OpenProject(
            actor=world.actor("admin", org_admin=True),
            project_id=project_id,
            organisation_id=world.organisation_id,
            code=code,
            title=f"{code} site",
            time_zone=time_zone,
        )
    )
    return dataclasses.replace(world, project_id=project_id)


def open_conflict(world: World, pid: uuid.UUID) -> uuid.UUID:
    """The id of the (one) SIMOPS conflict the permit's approval reports."""
    readiness = world.service.readiness(pid).actions["approve"]
    facts = [f.facts for f in (*readiness.blockers, *readiness.warnings) if f.rule == "SIM-06"]
    assert len(facts) == 1, facts
    return uuid.UUID(str(facts[0]["conflict_id"]))


def suspend(world: World, pid: uuid.UUID) -> None:
    world.run(
        c.SuspendPermit(
            actor=world.actor("app"),
            permit_id=pid,
            reason_code=SuspensionReason.MANUAL,
            text="Stop: crane lift over the area",
        )
    )


def live_over_evening(world: World) -> uuid.UUID:
    """A cold-work permit active from about 08:30 until 21:00, so live at the 18:00 boundary."""
    return world.active(
        template="cold-work",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )


# --- KPI-01 ----------------------------------------------------------------------------------------------------


def test_KPI_01_counts_per_effective_status_and_total_open(world: World, projected: Projected) -> None:
    world.draft()
    world.submitted()
    approved = world.approved(template="cold-work")
    dropped = world.draft()
    world.run(cancel(world, dropped))
    counts = report(projected, world).counts
    assert counts.by_status["draft"] == 1
    assert counts.by_status["submitted"] == 1
    assert counts.by_status["approved"] == 1
    assert counts.by_status["cancelled"] == 1
    assert (counts.total, counts.total_open) == (4, 3)
    # TIME-05: at the end of the start window the approved permit counts as expired, recorded or not
    expires = world.permit(approved).content.planned_start + timedelta(hours=2)
    later = report(projected, world, as_of=expires).counts
    assert (later.by_status["approved"], later.by_status["expired"]) == (0, 1)
    before = report(projected, world, as_of=expires - SECOND).counts
    assert (before.by_status["approved"], before.by_status["expired"]) == (1, 0)
    assert later.total_open == 3  # expired is still open


def test_KPI_01_closed_permits_are_not_open(world: World, projected: Projected) -> None:
    world.closed(template="cold-work")
    world.draft()
    counts = report(projected, world).counts
    assert (counts.by_status["closed"], counts.total, counts.total_open) == (1, 2, 1)


def test_KPI_01_the_status_counters_give_the_figures_of_the_exact_count(
    world: World, projected: Projected
) -> None:
    """Unfiltered, KPI-01 reads the projection's per-status counters and moves the permits whose expiry instant
    has come to expired; a filter every permit matches takes the exact scan. Same report at every as_of."""
    world.draft()
    world.submitted()
    approved = world.approved(template="cold-work")
    live = world.active(template="cold-work")
    world.completed(template="cold-work")
    world.closed(template="cold-work")
    world.run(cancel(world, world.draft()))
    suspend(world, world.active(template="cold-work"))
    south = World.create(world.service, world.clock, code="SOUTH")  # its counters never leak in
    south.approved(template="cold-work")
    south.closed(template="cold-work")
    expires = world.permit(approved).content.planned_start + timedelta(hours=2)
    moments = (
        world.clock.now(),
        expires - SECOND,
        expires,
        world.permit(live).valid_until,
        START + timedelta(days=3),
    )
    for as_of in moments:
        counted = report(projected, world, as_of=as_of)
        exact = report(projected, world, as_of=as_of, created_from="2000-01-01")
        assert replace(counted, filters=exact.filters) == exact, as_of
        assert summary(projected, world, as_of=as_of).counts == exact.counts, as_of
    at_expiry = report(projected, world, as_of=expires).counts
    assert at_expiry.by_status["expired"] >= 1 and at_expiry.total == 8
    assert report(projected, world, as_of=expires - SECOND).counts.by_status["approved"] == 1
    assert report(projected, south).counts.total == 2


# --- KPI-02 / KPI-03 ---------------------------------------------------------------------------------------


def test_KPI_02_a_submission_is_overdue_from_exactly_the_template_sla(
    world: World, projected: Projected
) -> None:
    world.publish_template(
        {"key": "quick", "category": "cold_work", "name": "Quick", "verification_sla_hours": 2}
    )
    submitted_at = world.clock.now()
    default = world.submitted(template="cold-work")  # verification_sla_hours = 4
    quick = world.submitted(template="quick")
    assert world.permit(default).submitted_at == submitted_at
    assert (
        report(projected, world, as_of=submitted_at + timedelta(hours=2) - SECOND).overdue_verifications == 0
    )
    at_two = report(projected, world, as_of=submitted_at + timedelta(hours=2))
    assert at_two.overdue_verifications == 1  # age ≥ limit
    assert [(i.permit_id, i.step, i.limit_hours) for i in at_two.lists.top_overdue] == [
        (quick, "verification", 2)
    ]
    assert (
        report(projected, world, as_of=submitted_at + timedelta(hours=4) - SECOND).overdue_verifications == 1
    )
    assert report(projected, world, as_of=submitted_at + timedelta(hours=4)).overdue_verifications == 2
    world.run(verify(world, quick))  # no longer pending verification
    assert report(projected, world, as_of=submitted_at + timedelta(hours=4)).overdue_verifications == 1


def test_KPI_03_an_approval_is_overdue_from_verification_plus_the_sla(
    world: World, projected: Projected
) -> None:
    pid = world.submitted(template="cold-work")
    world.clock.advance(timedelta(hours=3))
    world.run(verify(world, pid))
    verified_at = world.clock.now()
    at = report(projected, world, as_of=verified_at + timedelta(hours=4) - SECOND)
    assert (at.overdue_verifications, at.overdue_approvals) == (0, 0)
    due = report(projected, world, as_of=verified_at + timedelta(hours=4))
    assert due.overdue_approvals == 1
    [item] = due.lists.top_overdue
    assert (item.step, item.pending_since, item.age_hours, item.limit_hours) == (
        "approval",
        verified_at,
        4.0,
        4,
    )
    world.run(approve(world, pid))
    assert report(projected, world, as_of=verified_at + timedelta(hours=5)).overdue_approvals == 0


# --- KPI-04 ----------------------------------------------------------------------------------------------------


def test_KPI_04_expiring_soon_is_now_before_valid_until_within_four_hours(
    world: World, projected: Projected
) -> None:
    pid = world.active(template="cold-work")
    valid_until = world.permit(pid).valid_until
    assert report(projected, world, as_of=valid_until - timedelta(hours=4) - SECOND).expiring_soon == 0
    edge = report(projected, world, as_of=valid_until - timedelta(hours=4))  # valid_until ≤ now + 4 h
    assert edge.expiring_soon == 1
    assert edge.thresholds.expiring_soon_hours == 4
    [item] = edge.lists.expiring_soon
    assert (item.permit_id, item.effective_status, item.minutes_left) == (pid, Status.ACTIVE, 240)
    assert report(projected, world, as_of=valid_until - SECOND).expiring_soon == 1
    assert report(projected, world, as_of=valid_until).expiring_soon == 0  # now < valid_until fails: expired
    wider = report(projected, world, as_of=valid_until - timedelta(hours=6), expiring_soon_hours=6)
    assert (wider.expiring_soon, wider.thresholds.expiring_soon_hours) == (1, 6)


# --- KPI-05 ----------------------------------------------------------------------------------------------------


def test_KPI_05_isolation_pending_until_every_required_isolation_is_verified(
    world: World, projected: Projected
) -> None:
    world.publish_template({"key": "electrical", "category": "electrical", "name": "Electrical"})
    draft = world.draft(template="electrical")
    pid = world.under_review(template="electrical")
    world.draft(template="cold-work")
    assert (
        report(projected, world).isolation_pending == 1
    )  # under review, nothing assigned; drafts not counted
    world.assign_point(pid)
    assert report(projected, world).isolation_pending == 1  # assigned, not verified
    world.run(approve(world, pid))
    rpt = exceptions(projected, world)
    [item] = rpt.isolation_pending.items
    assert (item.permit_id, item.rule, item.facts["required"], item.facts["verified"]) == (
        pid,
        "ISO-10",
        1,
        0,
    )
    world.isolate_and_verify(pid)
    assert report(projected, world).isolation_pending == 0
    assert draft is not None


# --- KPI-06 ----------------------------------------------------------------------------------------------------


def test_KPI_06_close_out_pending_and_expired_awaiting_hand_back(world: World, projected: Projected) -> None:
    handed_back = world.completed(template="cold-work")
    live = world.active(template="cold-work")
    world.closed(template="cold-work")
    now = report(projected, world).closeout_pending
    assert (now.completed, now.expired_awaiting_hand_back) == (1, 0)
    valid_until = world.permit(live).valid_until
    after = report(projected, world, as_of=valid_until).closeout_pending
    assert (after.completed, after.expired_awaiting_hand_back) == (1, 1)
    assert handed_back is not None


# --- KPI-07 / KPI-08 ---------------------------------------------------------------------------------------


def test_KPI_07_mean_and_median_hours_to_approve_over_the_window(world: World, projected: Projected) -> None:
    assert report(projected, world).time_to_approve.mean_hours is None  # none: null
    hours = (1, 2, 6)
    for h in hours:
        pid = world.submitted(template="cold-work")
        world.clock.advance(timedelta(hours=h) - timedelta(minutes=10))
        world.run(verify(world, pid))
        world.clock.advance(timedelta(minutes=10))
        world.run(approve(world, pid))
        world.clock.advance(timedelta(minutes=1))
    first_approval = START + timedelta(hours=1)
    t = report(projected, world).time_to_approve
    assert (t.approvals, t.mean_hours, t.median_hours) == (3, 3.0, 2.0)
    # the window is (as_of - 30 days, as_of]: the first approval drops out at exactly 30 days
    t = report(projected, world, as_of=first_approval + timedelta(days=30) - SECOND).time_to_approve
    assert t.approvals == 3
    t = report(projected, world, as_of=first_approval + timedelta(days=30)).time_to_approve
    assert (t.approvals, t.mean_hours, t.median_hours) == (2, 4.0, 4.0)
    assert t.window_to - t.window_from == timedelta(days=30)
    assert report(projected, world, as_of=first_approval - SECOND).time_to_approve.approvals == 0  # not yet


def test_KPI_07_one_decimal(world: World, projected: Projected) -> None:
    pid = world.submitted(template="cold-work")
    world.clock.advance(timedelta(minutes=5))
    world.run(verify(world, pid))
    world.clock.advance(timedelta(minutes=2))  # 7 minutes = 0.1166… h
    world.run(approve(world, pid))
    t = report(projected, world).time_to_approve
    assert (t.mean_hours, t.median_hours) == (0.1, 0.1)


def test_KPI_08_permits_created_in_the_window_by_template_and_category(
    world: World, projected: Projected
) -> None:
    created = world.clock.now()
    world.draft()
    world.draft()
    world.draft(template="cold-work")
    types = report(projected, world).permits_per_type
    assert [(t.template_key, t.category, t.count) for t in types] == [
        ("hot-work", "hot_work", 2),
        ("cold-work", "cold_work", 1),
    ]
    assert report(projected, world, as_of=created + timedelta(days=30)).permits_per_type == []
    assert len(report(projected, world, as_of=created + timedelta(days=30) - SECOND).permits_per_type) == 2
    assert report(projected, world, window_days=1, as_of=created + timedelta(days=1)).permits_per_type == []


def test_KPI_08_windows_over_many_days_count_exactly_at_every_boundary(
    world: World, projected: Projected
) -> None:
    """The whole days of a window come from per-day counters and its two ends from the permits: the counts equal
    a count of the creation instants for windows starting and ending mid-day, at midnight and one microsecond
    either side, and for the report's whole project days."""
    made: list[tuple[datetime, str]] = []
    world.clock.set(START.replace(hour=0) + timedelta(minutes=1))
    for day in range(6):
        for i in range(day % 3 + 1):
            template = "cold-work" if (day + i) % 2 else "hot-work"
            made.append((world.clock.now(), template))
            world.draft(template=template)
            world.clock.advance(timedelta(hours=7, minutes=13))
        world.clock.set(START.replace(hour=0) + timedelta(days=day + 1))
    midnight = START.replace(hour=0) + timedelta(days=2)
    micro = timedelta(microseconds=1)
    for as_of in (midnight, midnight - micro, midnight + micro, midnight + timedelta(days=3, hours=5)):
        for window_days in (1, 2, 3, 5):
            start = as_of - timedelta(days=window_days)
            expected: dict[str, int] = {}
            for at, template in made:
                if start < at <= as_of:
                    expected[template] = expected.get(template, 0) + 1
            got = report(projected, world, as_of=as_of, window_days=window_days).permits_per_type
            assert {t.template_key: t.count for t in got} == expected, (as_of, window_days)
    whole = summary(projected, world, date_from="2026-11-26", date_to="2026-11-29", as_of=world.clock.now())
    inside = [m for m in made if whole.window.start <= m[0] < whole.window.end]
    assert whole.permits_in_window == len(inside) > 0


# --- KPI-09 ----------------------------------------------------------------------------------------------------


def test_KPI_09_suspended_permits_by_reason_code(world: World, projected: Projected) -> None:
    manual = world.active(template="cold-work")
    suspend(world, manual)
    gassed = world.active()  # hot work: gas tested
    world.gas_test(gassed, LEL=15.0)  # GAS-11: a failing reading suspends it
    suspended = report(projected, world).suspended
    assert suspended.total == 2
    assert suspended.by_reason == {"gas_test_failed": 1, "manual": 1}
    valid_until = world.permit(manual).valid_until
    assert report(projected, world, as_of=valid_until).suspended.by_reason.get("manual") is None  # expired


# --- KPI-10 ----------------------------------------------------------------------------------------------------


def test_KPI_10_open_conflicts_by_severity_and_blocking(world: World, projected: Projected) -> None:
    world.publish_template({"key": "radiography", "category": "radiography", "name": "Radiography"})
    world.submitted(area="U100", equipment_tags=("H-1",))
    welding = world.submitted(area="U100", equipment_tags=("H-2",))  # hot x hot: medium
    world.submitted(template="cold-work", area="U200", equipment_tags=("C-1",))
    world.submitted(template="radiography", area="U200", equipment_tags=("R-1",))  # radiography x any: high
    open_ = report(projected, world).conflicts_open
    assert (open_.by_severity, open_.total, open_.blocking) == ({"high": 1, "medium": 1, "low": 0}, 2, 1)
    world.run(
        sc.ResolveConflict(
            actor=world.actor("area"),
            conflict_id=open_conflict(world, welding),
            decision="accept_with_controls",
            controls="Screens between the two welding jobs",
        )
    )
    after = report(projected, world).conflicts_open
    assert (after.by_severity["medium"], after.total, after.blocking) == (0, 1, 1)
    # filters: a conflict counts when either of its permits matches
    assert report(projected, world, area="U100").conflicts_open.total == 0
    assert report(projected, world, template_key="cold-work").conflicts_open.blocking == 1
    accepted = exceptions(projected, world).conflicts_accepted_with_controls
    assert [(i.permit_id, i.rule, i.facts["severity"]) for i in accepted.items] == [
        (welding, "SIM-08", "medium")
    ]


# --- KPI-11 ----------------------------------------------------------------------------------------------------


def test_KPI_11_gas_retest_overdue_from_last_pass_plus_the_interval(
    world: World, projected: Projected
) -> None:
    world.publish_template(PERIODIC)
    pid = world.active(template="hot-work-periodic")
    world.active()  # hot work without periodic testing never counts
    state = world.permit(pid)
    last_pass = state.gas.last_pass()
    assert last_pass is not None and last_pass.completed_at is not None
    due = last_pass.completed_at + timedelta(minutes=60)
    assert report(projected, world, as_of=due - SECOND).gas_tests_overdue == 0
    assert report(projected, world, as_of=due).gas_tests_overdue == 1  # last pass + interval ≤ now
    world.clock.set(due - timedelta(minutes=5))
    world.gas_test(pid)  # a new passing session moves the retest
    assert report(projected, world, as_of=due).gas_tests_overdue == 0
    assert report(projected, world, as_of=due + timedelta(minutes=55)).gas_tests_overdue == 1


# --- KPI-12 ----------------------------------------------------------------------------------------------------


def test_KPI_12_a_live_permit_owes_a_handover_from_the_boundary(world: World, projected: Projected) -> None:
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    pid = live_over_evening(world)
    world.active(template="cold-work")  # valid until 17:00: no boundary while live
    assert report(projected, world, as_of=EVENING - SECOND).handovers.pending == 0
    at = report(projected, world, as_of=EVENING).handovers
    assert (at.pending, at.missed) == (1, 0)
    assert report(projected, world, as_of=EVENING + timedelta(minutes=30) - SECOND).handovers.missed == 0
    assert (
        report(projected, world, as_of=EVENING + timedelta(minutes=30)).handovers.missed == 1
    )  # grace ended
    world.clock.set(EVENING - timedelta(minutes=45))
    handover = hc.RecordHandover(
        actor=world.actor("req"),
        permit_id=pid,
        handover_id=uuid.uuid4(),
        role=HandoverRole.PERFORMING,
        incoming=world.people["req2"],
        notes="Rest next shift",
        signature=world.signature(pid),
    )
    world.run(handover)
    assert report(projected, world, as_of=EVENING).handovers.pending == 1  # recorded, not yet acknowledged
    world.run(
        hc.AcknowledgeHandover(
            actor=world.actor("req2"),
            permit_id=pid,
            handover_id=handover.handover_id,
            signature=world.signature(pid),
        )
    )
    assert report(projected, world, as_of=EVENING + timedelta(hours=1)).handovers.pending == 0


def test_KPI_12_follows_a_change_of_the_project_shift_boundaries(world: World, projected: Projected) -> None:
    live_over_evening(world)
    assert report(projected, world, as_of=EVENING - timedelta(hours=1)).handovers.pending == 0
    world.change_settings(shift_boundaries=("05:00", "17:00"))
    assert report(projected, world, as_of=EVENING - timedelta(hours=1)).handovers.pending == 1


# --- KPI-13 ----------------------------------------------------------------------------------------------------


def test_KPI_13_top_overdue_by_age_and_expiring_soon_by_valid_until(
    world: World, projected: Projected
) -> None:
    oldest = world.submitted(template="cold-work")
    world.clock.advance(timedelta(minutes=10))
    middle = world.under_review(template="cold-work")
    world.clock.advance(timedelta(minutes=10))
    newest = world.submitted(template="cold-work")
    as_of = world.clock.now() + timedelta(hours=5)
    rpt = report(projected, world, as_of=as_of)
    assert [i.permit_id for i in rpt.lists.top_overdue] == [oldest, middle, newest]
    assert [i.step for i in rpt.lists.top_overdue] == ["verification", "approval", "verification"]
    assert rpt.lists.top_overdue[0].age_hours == 5.3  # 5 h 20 min
    short = report(projected, world, as_of=as_of, list_size=2)
    assert [i.permit_id for i in short.lists.top_overdue] == [oldest, middle]
    assert short.overdue_verifications + short.overdue_approvals == 3  # the counts are not capped
    late = world.active(template="cold-work")
    world.clock.advance(timedelta(minutes=5))
    later = world.active(template="cold-work")
    ends = world.permit(later).valid_until
    rpt = report(projected, world, as_of=ends - timedelta(hours=1))
    assert [i.permit_id for i in rpt.lists.expiring_soon] == [late, later]


# --- RM-01 filters, tenancy, bad input ----------------------------------------------------------------------


def test_RM_01_kpis_take_the_permit_list_filters(world: World, projected: Projected) -> None:
    hot = world.submitted(area="A7", priority="high")
    world.submitted(template="cold-work", area="A8")
    world.add_person("req9", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    world.draft(template="cold-work", actor="req9", probability=5, severity=5)
    assert report(projected, world).counts.total == 3
    assert report(projected, world, template_key="hot-work").counts.total == 1
    assert report(projected, world, category="cold_work").counts.total == 2
    assert report(projected, world, area="A7").counts.by_status["submitted"] == 1
    assert report(projected, world, priority="HIGH").counts.total == 1
    assert report(projected, world, risk_level="extreme").counts.total == 1
    assert report(projected, world, requestor="req9").counts.total == 1
    assert report(projected, world, status="submitted,draft").counts.total == 3
    assert report(projected, world, status="pending_verification").counts.total == 2  # RM-07 alias
    assert report(projected, world, location="pipe rack").counts.total == 3
    assert report(projected, world, created_from="2026-11-25", created_to="2026-11-25").counts.total == 3
    assert report(projected, world, created_from="2026-11-26").counts.total == 0
    assert report(projected, world, has_open_conflict=False).counts.total == 1  # both submitted share P-101
    filtered = report(projected, world, area="A7", template_key="hot-work")
    assert filtered.filters.area == "A7" and filtered.counts.total == 1
    assert hot is not None


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"filters": {"priority": "urgent"}}, "priority"),
        ({"filters": {"risk_level": "huge"}}, "risk_level"),
        ({"filters": {"status": "bogus"}}, "status"),
        ({"filters": {"created_from": "yesterday"}}, "created_from"),
        ({"filters": {"colour": "red"}}, "colour"),
        ({"expiring_soon_hours": 0}, "expiring_soon_hours"),
        ({"window_days": -1}, "window_days"),
        ({"list_size": 101}, "list_size"),
        ({"as_of": datetime(2026, 11, 25, 12, 0)}, "as_of"),
    ],
)
def test_RM_01_bad_kpi_input_names_the_parameter(
    world: World, projected: Projected, arguments: dict[str, Any], parameter: str
) -> None:
    reads = projected.catch_up()
    values: dict[str, Any] = {"as_of": world.clock.now(), **arguments}
    filters = values.pop("filters", {})
    with pytest.raises(InvalidQuery) as error:
        kpis(reads, world.project_id, filters=parse_query(filters, KpiFilters), **values)
    assert error.value.parameter == parameter


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"date_from": "2026-11-26", "date_to": "2026-11-25"}, "date_from"),
        ({"date_to": "2026-13-01"}, "date_to"),
        ({"date_from": "25/11/2026"}, "date_from"),
        ({"report_approval_hours": 0}, "report_approval_hours"),
        ({"as_of": datetime(2026, 11, 25, 12, 0)}, "as_of"),
    ],
)
def test_RPT_01_bad_report_input_names_the_parameter(
    world: World, projected: Projected, arguments: dict[str, Any], parameter: str
) -> None:
    reads = projected.catch_up()
    values: dict[str, Any] = {"as_of": world.clock.now(), **arguments}
    with pytest.raises(InvalidQuery) as error:
        compliance_summary(reads, world.project_id, **values)
    assert error.value.parameter == parameter
    with pytest.raises(InvalidQuery) as error:
        compliance_exceptions(reads, world.project_id, **values)
    assert error.value.parameter == parameter
    if "as_of" not in arguments:
        with pytest.raises(InvalidQuery) as error:
            compliance_exceptions(reads, world.project_id, as_of=world.clock.now(), exceptions_cap=0)
        assert error.value.parameter == "exceptions_cap"


def test_TEN_02_another_project_never_leaks_into_the_figures(world: World, projected: Projected) -> None:
    world.submitted(template="cold-work")
    mine = report(projected, world, as_of=START + timedelta(days=1))
    south = World.create(world.service, world.clock, code="SOUTH")
    south.submitted(template="cold-work")
    south.active(template="cold-work")
    south.draft()
    gassed = south.active()
    south.gas_test(gassed, LEL=15.0)  # a gas failure and an automatic suspension in SOUTH only
    again = report(projected, world, as_of=START + timedelta(days=1))
    assert again.as_of_position > mine.as_of_position
    assert replace(again, as_of_position=0) == replace(mine, as_of_position=0)
    theirs = report(projected, south, as_of=START + timedelta(days=1))
    assert theirs.counts.total == 4 and theirs.overdue_verifications == 1
    assert report(projected, south).suspended.by_reason == {"gas_test_failed": 1}
    for who, created in ((world, 1), (south, 4)):
        assert summary(projected, who).permits_in_window == created
    mine_exceptions = exceptions(projected, world, as_of=START + timedelta(days=2))
    assert mine_exceptions.overdue_verification.total == 1
    assert (mine_exceptions.gas_failures.total, mine_exceptions.automatic_suspensions.total) == (0, 0)
    assert exceptions(projected, south).gas_failures.total == 1


# --- RPT-01 / RPT-02 ----------------------------------------------------------------------------------------


def test_RPT_01_the_window_is_whole_days_in_the_project_time_zone(world: World, projected: Projected) -> None:
    nz = opened_in(world, "Pacific/Auckland", "AKL")  # UTC+13 in November
    world.clock.set(START.replace(hour=10))  # 23:00 on 25 November in Auckland
    late = nz.draft(template="cold-work")
    world.clock.set(START.replace(hour=11))  # 00:00 on 26 November in Auckland: the next day
    next_day = nz.draft(template="cold-work")
    day = summary(projected, nz, date_from="2026-11-25", date_to="2026-11-25")
    assert day.permits_in_window == 1
    assert day.window.time_zone == "Pacific/Auckland"
    assert day.window.start.isoformat() == "2026-11-25T00:00:00+13:00"
    assert day.window.end.isoformat() == "2026-11-26T00:00:00+13:00"
    assert (
        summary(projected, nz, date_from=date(2026, 11, 26), date_to=date(2026, 11, 26)).permits_in_window
        == 1
    )
    both = summary(projected, nz, date_from="2026-11-25", date_to="2026-11-26")
    assert both.permits_in_window == 2
    assert [(t.template_key, t.count) for t in both.top_templates] == [("cold-work", 2)]
    default = summary(projected, nz)  # the last 30 days up to as_of's day, in project time
    assert (default.window.date_from, default.window.date_to) == (date(2026, 10, 28), date(2026, 11, 26))
    assert default.permits_in_window == 2
    assert late is not None and next_day is not None


def test_RPT_02_summary_uses_the_report_thresholds_and_ignores_the_window_for_current_state(
    world: World, projected: Projected
) -> None:
    submitted = world.submitted(template="cold-work")
    reviewed = world.under_review(template="cold-work")
    verified_at = world.permit(reviewed).verified_at
    submitted_at = world.permit(submitted).submitted_at
    assert verified_at is not None and submitted_at is not None
    at_24 = summary(projected, world, as_of=submitted_at + timedelta(hours=24))
    assert (at_24.overdue_verification, at_24.overdue_approval) == (1, 0)
    assert (
        summary(projected, world, as_of=submitted_at + timedelta(hours=24) - SECOND).overdue_verification == 0
    )
    assert summary(projected, world, as_of=verified_at + timedelta(hours=48) - SECOND).overdue_approval == 0
    assert summary(projected, world, as_of=verified_at + timedelta(hours=48)).overdue_approval == 1
    assert at_24.thresholds.report_verification_hours == 24
    assert at_24.thresholds.report_approval_hours == 48
    # current state ignores the window; permits in the window do not
    old = summary(
        projected,
        world,
        as_of=submitted_at + timedelta(hours=24),
        date_from="2026-10-01",
        date_to="2026-10-31",
    )
    assert (old.counts.total, old.overdue_verification, old.permits_in_window) == (2, 1, 0)
    assert old.top_templates == []


def test_RPT_02_expiring_within_24_hours_isolation_close_out_and_sod_relaxations(
    world: World, projected: Projected
) -> None:
    pid = world.active(template="cold-work")
    world.completed(template="cold-work")
    valid_until = world.permit(pid).valid_until
    s = summary(projected, world, as_of=valid_until - timedelta(hours=24))
    assert (s.expiring, s.closeout_pending.completed, s.isolation_pending, s.sod_relaxations) == (1, 1, 0, 0)
    assert summary(projected, world, as_of=valid_until - timedelta(hours=24) - SECOND).expiring == 0


def test_RPT_04_incident_rate_is_incidents_linked_to_the_window_permits_per_100(
    world: World, projected: Projected
) -> None:
    """RPT-02: incidents linked (RPT-04, recorded by as_of) to permits created in the window, / those permits x
    100, 2 decimals, 0 when none; a permit created before the window does not count, nor does a link made after
    as_of."""
    assert summary(projected, world).incident_rate == 0.0  # no permits: 0 when none
    world.clock.set(START - timedelta(days=40))
    old = world.draft()
    world.clock.set(START)
    permits = [world.draft() for _ in range(3)]
    world.clock.advance(timedelta(minutes=5))
    for pid, ref in ((permits[0], "INC-1"), (permits[1], "INC-2"), (old, "INC-3")):
        world.run(rc.LinkIncident(actor=world.actor("safe"), permit_id=pid, incident_ref=ref))
    linked = world.clock.now()
    world.clock.advance(timedelta(minutes=5))
    world.run(rc.LinkIncident(actor=world.actor("safe"), permit_id=permits[2], incident_ref="INC-4"))
    s = summary(projected, world, as_of=linked)
    assert (s.permits_in_window, s.incidents_in_window, s.incident_rate) == (3, 2, 66.67)
    later = summary(projected, world)
    assert (later.incidents_in_window, later.incident_rate) == (3, 100.0)


# --- RPT-03 --------------------------------------------------------------------------------------------------


def test_RPT_03_gas_failures_automatic_suspensions_and_the_cap(world: World, projected: Projected) -> None:
    first = world.active()
    world.gas_test(first, LEL=15.0)
    world.clock.advance(timedelta(minutes=5))
    second = world.active()
    world.gas_test(second, LEL=20.0)
    rpt = exceptions(projected, world)
    assert [i.permit_id for i in rpt.gas_failures.items] == [first, second]
    assert rpt.gas_failures.items[0].facts["failing_gases"] == ["LEL"]
    assert [(i.permit_id, i.rule, i.facts["reason_code"]) for i in rpt.automatic_suspensions.items] == [
        (first, "GAS-11", "gas_test_failed"),
        (second, "GAS-11", "gas_test_failed"),
    ]
    assert rpt.automatic_suspensions.items[0].number == world.permit(first).number
    capped = exceptions(projected, world, exceptions_cap=1)
    assert (capped.gas_failures.total, capped.gas_failures.truncated, len(capped.gas_failures.items)) == (
        2,
        True,
        1,
    )
    assert capped.thresholds.exceptions_cap == 1
    assert (rpt.gas_failures.total, rpt.gas_failures.truncated) == (2, False)
    # events recorded outside the window are left out
    outside = exceptions(projected, world, date_from="2026-11-26", date_to="2026-11-27")
    assert outside.gas_failures.total == 0


def test_RPT_03_missed_handovers_expired_while_live_and_incomplete_hand_backs(
    world: World, projected: Projected
) -> None:
    evening = live_over_evening(world)
    incomplete = world.active(template="cold-work")
    world.run(complete(world, incomplete, outcome="incomplete", remaining_hazards="Scaffold still up"))
    world.clock.set(EVENING + timedelta(minutes=30))
    world.service.run_sweep()  # HOV-03: missed, and the active permit is suspended
    world.clock.set(world.permit(evening).valid_until)
    world.service.run_sweep()  # LIFE-23: expired while (suspended, so) live
    rpt = exceptions(projected, world)
    [missed] = rpt.missed_handovers.items
    assert (missed.permit_id, missed.rule, missed.facts["boundary"]) == (
        evening,
        "HOV-03",
        EVENING.isoformat(),
    )
    assert [(i.permit_id, i.rule) for i in rpt.automatic_suspensions.items] == [(evening, "HOV-03")]
    [expired] = rpt.expired_while_live.items
    assert (expired.permit_id, expired.facts["previous_status"]) == (evening, "suspended")
    [hand_back] = rpt.incomplete_hand_backs.items
    assert (hand_back.permit_id, hand_back.rule) == (incomplete, "CLO-08")


def test_RPT_03_signature_invalidations_and_current_state_lists(world: World, projected: Projected) -> None:
    pid = world.submitted(template="cold-work")
    world.run(amend(world, pid, description="Weld two brackets on pipe rack 3"))
    world.nominate_and_submit(pid)
    stale = world.submitted(template="cold-work")
    handed_back = world.completed(template="cold-work")
    rpt = exceptions(projected, world, as_of=world.clock.now() + timedelta(hours=30))
    [invalidation] = rpt.signature_invalidations.items
    assert (invalidation.permit_id, invalidation.rule, invalidation.facts["reason"]) == (
        pid,
        "SIG-07",
        "core_change",
    )
    assert {i.permit_id for i in rpt.overdue_verification.items} == {pid, stale}
    assert all(i.facts["limit_hours"] == 24 for i in rpt.overdue_verification.items)
    [closeout] = rpt.closeout_pending.items
    assert (closeout.permit_id, closeout.rule, closeout.facts["status"]) == (
        handed_back,
        "CLO-04",
        "completed",
    )
    assert rpt.orphan_isolations.total == 0


def test_RPT_03_orphan_isolations_and_de_isolation_deferred_to_operations(
    world: World, projected: Projected
) -> None:
    pid = world.approved(template="cold-work")
    world.assign_point(pid)
    world.isolate_and_verify(pid)
    assert exceptions(projected, world).orphan_isolations.total == 0  # held by an approved permit
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, pid))
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, pid))  # handed back: no longer holding, the isolation still in place
    [orphan] = exceptions(projected, world).orphan_isolations.items
    assert orphan.rule == "LIFE-03" and orphan.facts["status"] == "verified"
    isolation_id = uuid.UUID(str(orphan.facts["isolation_id"]))
    world.run(
        ic.TransferIsolationToOperations(
            actor=world.actor("area"), isolation_id=isolation_id, reason="left in place for recommissioning"
        )
    )
    rpt = exceptions(projected, world)
    assert rpt.orphan_isolations.total == 0  # operations-held (ISO-14)
    [deferred] = rpt.deisolation_deferred_to_operations.items
    assert (deferred.rule, deferred.facts["received_by"], deferred.facts["permits"]) == (
        "ISO-14",
        "area",
        [str(pid)],
    )


def test_RPT_03_lock_removals_by_exception(world: World, projected: Projected) -> None:
    world.publish_template({"key": "electrical", "category": "electrical", "name": "Electrical"})
    pid = world.active(template="electrical")
    world.run(
        ic.ApplyPersonalLock(
            actor=world.actor("crew1"), permit_id=pid, lock_id="P-1", worker_id=world.workers["crew1"]
        )
    )
    world.run(lock_exception(world, pid))
    [removal] = exceptions(projected, world).lock_removals_by_exception.items
    assert (removal.permit_id, removal.rule, removal.facts["lock_id"], removal.facts["recorded_by"]) == (
        pid,
        "LOCK-02",
        "P-1",
        "iso",
    )


def test_RPT_03_isolation_lock_removals_by_exception_are_listed_too(
    world: World, projected: Projected
) -> None:
    """LOCK-02 facts recorded on an isolation (ISO-13: its locks are then removed by someone else) are an exception
    of the same list, naming the isolation and the owner; here a cancelled permit's isolation, on its own stream."""
    world.publish_template({"key": "electrical", "category": "electrical"})
    pid = world.approved(template="electrical")
    world.isolate_and_verify(pid)
    world.run(c.CancelPermit(actor=world.actor("req"), permit_id=pid, reason="called off"))
    iid = world.permit(pid).isolations.assignments[0].isolation_id
    [lock_id] = next(
        e for e in world.service.store.events.get(iid) if e.type == "PointIsolated"
    ).payload.lock_ids
    world.run(on_isolation(world, iid, lock_id))
    [removal] = exceptions(projected, world).lock_removals_by_exception.items
    assert (removal.permit_id, removal.rule) == (None, "LOCK-02")
    assert (removal.facts["isolation_id"], removal.facts["lock_id"], removal.facts["owner"]) == (
        str(iid),
        lock_id,
        "iso",
    )


@pytest.mark.postgres
def test_a_report_connection_keeps_generic_plans_without_a_transaction(postgres_url: str) -> None:
    """The KPI report's statements run with generic plans and no parallel plans, set when the connection is made
    (no BEGIN, settings and COMMIT per report); the queries' connections keep the planner's own choice."""
    from sqlalchemy import text

    from ptw_projections.database import open_read_database

    db = open_read_database(postgres_url)
    settings = text(
        "SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather'), "
        "now() = statement_timestamp()"  # equal only outside a transaction block
    )
    try:
        with db.report() as conn:
            conn.execute(text("SELECT pg_sleep(0.01)"))
            assert tuple(conn.execute(settings).one()) == ("force_generic_plan", "0", True)
        with db.reader() as conn:
            assert conn.execute(settings).one()[0] == "auto"
    finally:
        db.dispose()
