# ruff: noqa: N802
"""The permit list read model: RM-01 filters, RM-02 bounds, RM-03 sorts, RM-04 paging, RM-05 items, RM-07 aliases,
TIME-05 effective status at an explicit as_of, TEN-02 tenancy, and refusals naming the parameter."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.events.handover import HandoverRole
from ptw_domain.handover import commands as hc
from ptw_domain.permit.status import Status
from ptw_domain.roles import CompanyKind, Role
from ptw_domain.simops import commands as sc
from ptw_projections.errors import InvalidQuery
from ptw_projections.params import parse_query
from ptw_projections.permit_list.projection import PRIORITY_RANK
from ptw_projections.permit_list.query import PermitPage, PermitQuery, list_permits
from ptw_projections.reader import ReadSide
from tests.builders import START, World, cancel
from tests.projections.conftest import Projected


def listed(projected: Projected, world: World, *, as_of: datetime | None = None, **query: Any) -> PermitPage:
    """The list for `world`'s project after catching up, at `as_of` (default the clock's now)."""
    reads = projected.catch_up()
    return list_permits(
        reads, world.project_id, parse_query(query, PermitQuery), as_of=as_of or world.clock.now()
    )


def numbers(page: PermitPage) -> list[str]:
    return [item.number for item in page.items]


def found(projected: Projected, world: World, **query: Any) -> set[uuid.UUID]:
    """The ids the (whole, unpaged) list holds for the query."""
    page = listed(projected, world, page_size=100, **query)
    assert page.total == len(page.items)
    return {item.id for item in page.items}


def number(world: World, pid: uuid.UUID) -> str:
    return world.permit(pid).number


def iso(instant: datetime) -> str:
    return instant.isoformat()


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


# --- RM-01 status and TIME-05 --------------------------------------------------------------------------------


def test_RM_01_status_filter_takes_a_comma_list_of_statuses(world: World, projected: Projected) -> None:
    draft = world.draft()
    submitted = world.submitted()
    review = world.under_review()
    cancelled = world.draft()
    world.run(cancel(world, cancelled))
    assert found(projected, world, status="draft") == {draft}
    assert found(projected, world, status="draft,submitted") == {draft, submitted}
    assert found(projected, world, status=" Under_Review , cancelled ") == {review, cancelled}
    assert found(projected, world, status="approved") == set()


def test_RM_01_TIME_05_an_active_permit_past_valid_until_is_listed_as_expired_never_active(
    world: World, projected: Projected
) -> None:
    active = world.active()
    draft = world.draft()
    end = world.permit(active).valid_until
    before = end - timedelta(microseconds=1)
    # TIME-06: validity is [start, valid_until): just before the end it is still active
    assert found(projected, world, status="active", as_of=before) == {active}
    assert found(projected, world, status="expired", as_of=before) == set()
    # from valid_until it is expired, recorded or not (no sweep has run: the stored status is still active)
    assert world.permit(active).status is Status.ACTIVE
    assert found(projected, world, status="active", as_of=end) == set()
    assert found(projected, world, status="in_progress", as_of=end) == set()
    assert found(projected, world, status="expired", as_of=end) == {active}
    assert found(projected, world, status="draft", as_of=end) == {draft}  # drafts never expire
    (item,) = listed(projected, world, status="expired", as_of=end).items
    assert (item.status, item.effective_status) == (Status.ACTIVE, Status.EXPIRED)
    # RM-03: the status sort is in lifecycle order (draft first)
    assert [i.id for i in listed(projected, world, sort="status", as_of=before).items] == [draft, active]


def test_RM_03_TIME_05_the_status_sort_orders_by_effective_status(world: World, projected: Projected) -> None:
    first = world.active()
    end = world.permit(first).valid_until
    later = world.active(planned_end=world.permit(first).content.planned_end + timedelta(hours=2))
    # both active before the first one's end: ties broken by number
    before = [i.id for i in listed(projected, world, sort="status", as_of=end - timedelta(seconds=1)).items]
    assert before == [first, later]
    # from its end the first is effectively expired, which comes after active in the lifecycle
    assert [i.id for i in listed(projected, world, sort="status", as_of=end).items] == [later, first]
    assert [i.id for i in listed(projected, world, sort="-status", as_of=end).items] == [first, later]


def test_RM_01_TIME_05_an_approved_permit_whose_start_window_passed_is_listed_as_expired(
    world: World, projected: Projected
) -> None:
    approved = world.approved()
    window_end = world.permit(approved).content.planned_start + timedelta(hours=2)  # start_window_hours
    assert window_end < world.permit(approved).valid_until
    assert found(projected, world, status="approved", as_of=window_end - timedelta(seconds=1)) == {approved}
    assert found(projected, world, status="approved", as_of=window_end) == set()
    assert found(projected, world, status="expired", as_of=window_end) == {approved}


def test_RM_07_status_aliases_map_to_canonical_statuses_and_outputs_stay_canonical(
    world: World, projected: Projected
) -> None:
    draft = world.draft()
    submitted = world.submitted()
    review = world.under_review()
    active = world.active()
    assert found(projected, world, status="pending_verification") == {submitted}
    assert found(projected, world, status="verified") == {review}
    assert found(projected, world, status="pending_approval") == {review}
    assert found(projected, world, status="in_progress") == {active}
    assert found(projected, world, status="pending_verification,draft") == {submitted, draft}
    page = listed(projected, world, status="pending_verification,pending_approval,in_progress")
    assert {(i.status.value, i.effective_status.value) for i in page.items} == {
        ("submitted", "submitted"),
        ("under_review", "under_review"),
        ("active", "active"),
    }


# --- RM-01 the other filters ---------------------------------------------------------------------------------


def test_RM_01_template_key_and_category_filters(world: World, projected: Projected) -> None:
    hot = world.draft()
    cold = world.draft(template="cold-work")
    assert found(projected, world, template_key="cold-work") == {cold}
    assert found(projected, world, template_key="hot-work") == {hot}
    assert found(projected, world, category="hot_work") == {hot}
    assert found(projected, world, category="cold_work") == {cold}
    assert found(projected, world, template_key="tank") == set()


def test_RM_01_area_filter_is_exact(world: World, projected: Projected) -> None:
    a1 = world.draft(area="A1")
    b2 = world.draft(area="B2")
    assert found(projected, world, area="B2") == {b2}
    assert found(projected, world, area="A1") == {a1}
    assert found(projected, world, area="A") == set()


def test_RM_01_equipment_tag_filter_matches_one_tag_exactly(world: World, projected: Projected) -> None:
    both = world.draft(equipment_tags=("P-101", "V-7"))
    other = world.draft(equipment_tags=("P-102",))
    world.draft(equipment_tags=())
    assert found(projected, world, equipment_tag="V-7") == {both}
    assert found(projected, world, equipment_tag="P-102") == {other}
    assert found(projected, world, equipment_tag="P-10") == set()


def test_RM_01_location_text_matches_a_case_insensitive_substring(world: World, projected: Projected) -> None:
    rack = world.draft(location="Pipe rack 3, north side")
    roof = world.draft(location="Boiler house roof")
    assert found(projected, world, location="RACK 3") == {rack}
    assert found(projected, world, location="house") == {roof}
    assert found(projected, world, location="%") == set()  # wildcards are literal text


def test_RM_01_priority_filter(world: World, projected: Projected) -> None:
    high = world.draft(priority="high")
    low = world.draft(priority="low")
    medium = world.draft()
    assert found(projected, world, priority="high") == {high}
    assert found(projected, world, priority="LOW") == {low}
    assert found(projected, world, priority="medium") == {medium}
    assert found(projected, world, priority="critical") == set()


def test_RM_01_risk_level_filter_uses_the_effective_level(world: World, projected: Projected) -> None:
    world.publish_template({"key": "hv", "category": "electrical", "inherent_risk_level": "high"})
    inherent = world.draft(template="hv", probability=1, severity=2)  # assessed low, effective high (RISK-03)
    medium = world.draft(probability=2, severity=3)
    extreme = world.draft(probability=4, severity=5)
    assert found(projected, world, risk_level="high") == {inherent}
    assert found(projected, world, risk_level="low") == set()
    assert found(projected, world, risk_level="medium") == {medium}
    assert found(projected, world, risk_level="Extreme") == {extreme}
    (item,) = listed(projected, world, risk_level="high").items
    assert (item.risk_score, item.risk_level.value, item.effective_risk_level.value) == (2, "low", "high")


def test_RM_01_assignee_matches_every_party_role(world: World, projected: Projected) -> None:
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    world.add_person("pa", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    draft = world.draft(actor="req2", performing_authority="pa")
    submitted = world.submitted()  # verifier `ver` nominated
    review = world.under_review()  # verified by `ver`, approvers `app` and `app2` nominated
    approved = world.approved()  # approved by `app`
    assert found(projected, world, assignee="req2") == {draft}  # requestor
    assert found(projected, world, assignee="pa") == {draft}  # performing authority
    assert found(projected, world, assignee="req") == {submitted, review, approved}  # requestor and PA
    assert found(projected, world, assignee="ver") == {submitted, review, approved}  # verifier
    assert found(projected, world, assignee="app2") == {review, approved}  # nominated approver
    assert found(projected, world, assignee="app") == {review, approved}
    assert found(projected, world, assignee="safe") == set()


def test_RM_01_RM_09_assignee_also_matches_an_open_task_named_to_them(
    world: World, projected: Projected
) -> None:
    """The incoming person of an unacknowledged handover holds no party role, but the permit is theirs to act on."""
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    pid = world.active(
        template="cold-work",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )
    assert found(projected, world, assignee="req2") == set()
    world.clock.set(START.replace(hour=18) - timedelta(minutes=20))
    world.run(
        hc.RecordHandover(
            actor=world.actor("req"),
            permit_id=pid,
            handover_id=uuid.uuid4(),
            role=HandoverRole.PERFORMING,
            incoming=world.people["req2"],
            notes="Flange bolts torqued to 50 %",
            signature=world.signature(pid),
        )
    )
    assert found(projected, world, assignee="req2") == {pid}


def test_RM_01_requestor_filter(world: World, projected: Projected) -> None:
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    mine = world.draft()
    theirs = world.draft(actor="req2", performing_authority="req")
    assert found(projected, world, requestor="req2") == {theirs}
    assert found(projected, world, requestor="req") == {mine}  # the PA of `theirs` is not its requestor


def test_RM_01_RM_02_created_range_bounds_are_inclusive_instants(world: World, projected: Projected) -> None:
    first = world.draft()
    t1 = world.clock.advance(timedelta(hours=1))
    second = world.draft()
    t2 = world.clock.advance(timedelta(hours=1))
    third = world.draft()
    assert found(projected, world, created_from=iso(t1), created_to=iso(t2)) == {second, third}
    assert found(projected, world, created_from=iso(t1), created_to=iso(t1)) == {second}
    assert found(projected, world, created_to=iso(t1 - timedelta(seconds=1))) == {first}
    assert found(projected, world, created_from=iso(t2 + timedelta(seconds=1))) == set()
    # any offset names the same instant; Z too
    assert found(projected, world, created_from="2026-11-25T18:00:00+09:00") == {second, third}
    assert found(projected, world, created_to="2026-11-25T08:00:00Z") == {first}


def test_RM_02_a_date_only_bound_covers_the_whole_day_in_utc_project_time(
    world: World, projected: Projected
) -> None:
    morning = world.draft()  # 2026-11-25 08:00 UTC: the World's project is on UTC
    world.clock.set(datetime.fromisoformat("2026-11-25T23:59:59+00:00"))
    late = world.draft()
    world.clock.advance(timedelta(seconds=1))
    next_day = world.draft()
    assert found(projected, world, created_from="2026-11-25", created_to="2026-11-25") == {morning, late}
    assert found(projected, world, created_to="2026-11-25") == {morning, late}
    assert found(projected, world, created_from="2026-11-26") == {next_day}
    assert found(projected, world, created_to="2026-11-24") == set()


def test_RM_02_a_date_only_bound_is_a_day_in_the_project_time_zone(
    world: World, projected: Projected
) -> None:
    tokyo = opened_in(world, "Asia/Tokyo", "EAST")  # UTC+9
    evening = tokyo.draft()  # 08:00Z = 17:00 in Tokyo on the 25th
    world.clock.set(datetime.fromisoformat("2026-11-25T14:59:59+00:00"))  # 23:59:59 on the 25th in Tokyo
    before_midnight = tokyo.draft()
    world.clock.advance(timedelta(seconds=1))  # 00:00 on the 26th in Tokyo, still the 25th in UTC
    after_midnight = tokyo.draft()
    on_25th = found(projected, tokyo, created_from="2026-11-25", created_to="2026-11-25")
    assert on_25th == {evening, before_midnight}
    assert found(projected, tokyo, created_from="2026-11-26", created_to="2026-11-26") == {after_midnight}
    # planned starts follow the same rule
    start = datetime.fromisoformat("2026-11-26T15:00:00+00:00")  # 00:00 on the 27th in Tokyo
    on_27th = tokyo.draft(planned_start=start, planned_end=start + timedelta(hours=4))
    edge = start - timedelta(seconds=1)
    on_26th = tokyo.draft(planned_start=edge, planned_end=edge + timedelta(hours=4))
    assert found(projected, tokyo, planned_start_from="2026-11-27") == {on_27th}
    # the drafts above start an hour after creation: 18:00 on the 25th, 00:59:59 and 01:00 on the 26th
    on_the_26th = found(projected, tokyo, planned_start_from="2026-11-26", planned_start_to="2026-11-26")
    assert on_the_26th == {before_midnight, after_midnight, on_26th}
    assert found(projected, tokyo, planned_start_to="2026-11-25") == {evening}


def test_RM_01_RM_02_planned_start_and_planned_end_ranges(world: World, projected: Projected) -> None:
    t = START + timedelta(hours=2)
    early = world.draft(planned_start=t, planned_end=t + timedelta(hours=2))
    late = world.draft(planned_start=t + timedelta(hours=1), planned_end=t + timedelta(hours=5))
    assert found(projected, world, planned_start_from=iso(t + timedelta(hours=1))) == {late}
    assert found(projected, world, planned_start_to=iso(t)) == {early}  # inclusive
    assert found(
        projected, world, planned_start_from=iso(t), planned_start_to=iso(t + timedelta(hours=1))
    ) == {
        early,
        late,
    }
    assert found(projected, world, planned_end_to=iso(t + timedelta(hours=2))) == {early}  # inclusive
    assert found(projected, world, planned_end_from=iso(t + timedelta(hours=2, seconds=1))) == {late}
    assert found(projected, world, planned_end_from="2026-11-26") == set()
    assert found(projected, world, planned_end_to="2026-11-25") == {early, late}


def test_RM_01_valid_until_range_follows_extensions_not_the_planned_end(
    world: World, projected: Projected
) -> None:
    extended = world.approved()
    planned_end = world.permit(extended).content.planned_end
    ext = uuid.uuid4()
    world.run(
        c.RequestExtension(
            actor=world.actor("req"),
            permit_id=extended,
            extension_id=ext,
            requested_end=planned_end + timedelta(minutes=30),
            reason="more welding",
        )
    )
    world.run(
        c.DecideExtension(
            actor=world.actor("app"),
            permit_id=extended,
            extension_id=ext,
            signature=world.signature(extended),
            approve=True,
        )
    )
    new_end = world.permit(extended).valid_until
    assert new_end == planned_end + timedelta(minutes=30)
    plain = world.draft(planned_start=planned_end - timedelta(hours=4), planned_end=planned_end)
    assert found(projected, world, valid_until_from=iso(new_end)) == {extended}  # inclusive
    assert found(projected, world, valid_until_to=iso(new_end - timedelta(seconds=1))) == {plain}
    assert found(projected, world, planned_end_from=iso(new_end)) == set()
    assert found(projected, world, valid_until_from="2026-11-25", valid_until_to="2026-11-25") == {
        extended,
        plain,
    }
    (item,) = listed(projected, world, valid_until_from=iso(new_end)).items
    assert (item.planned_end, item.valid_until) == (planned_end, new_end)


def test_RM_01_has_open_conflict_follows_the_conflict_state(world: World, projected: Projected) -> None:
    older = world.submitted(template="cold-work", area="U300", equipment_tags=("C-1",))
    newer = world.submitted(template="cold-work", area="U300", equipment_tags=("C-2",))  # SIM-05: low
    apart = world.submitted(template="cold-work", area="U400", equipment_tags=("C-3",))
    draft = world.draft(area="U300", equipment_tags=("C-4",))  # drafts are no SIMOPS candidates
    assert found(projected, world, has_open_conflict=True) == {older, newer}
    assert found(projected, world, has_open_conflict="false") == {apart, draft}
    counts = {i.id: i.open_conflicts for i in listed(projected, world).items}
    assert counts == {older: 1, newer: 1, apart: 0, draft: 0}
    world.run(
        sc.ResolveConflict(
            actor=world.actor("area"),
            conflict_id=open_conflict(world, newer),
            decision="accept_with_controls",
            controls="Barrier between the two jobs",
        )
    )
    assert found(projected, world, has_open_conflict=True) == set()
    assert found(projected, world, has_open_conflict=False) == {older, newer, apart, draft}


def test_RM_01_q_searches_number_title_description_location_equipment_and_work_order(
    world: World, projected: Projected
) -> None:
    gasket = world.draft(title="Replace gasket", work_order_id="WO-7781")
    tank = world.draft(
        title="Inspect valve", description="Visual check", location="Tank farm", equipment_tags=("TK-9",)
    )
    assert found(projected, world, q="wo-7781") == {gasket}  # work order, any case
    assert found(projected, world, q="GASKET") == {gasket}  # title
    assert found(projected, world, q="bracket") == {gasket}  # description
    assert found(projected, world, q="farm") == {tank}  # location
    assert found(projected, world, q="tk-9") == {tank}  # equipment
    assert found(projected, world, q=number(world, tank).lower()) == {tank}  # number
    assert found(projected, world, q="gasket, weld") == {gasket}  # commas split, every term matches
    assert found(projected, world, q="gasket  tank") == set()  # terms combine with AND
    assert found(projected, world, q="north") == {gasket, tank}  # the number's project code
    assert found(projected, world, q="%") == set()


def test_RM_01_filters_combine_with_AND(world: World, projected: Projected) -> None:
    both = world.draft(area="B2", priority="high")
    world.draft(area="B2")
    world.draft(area="A1", priority="high")
    cold = world.draft(template="cold-work", area="B2", priority="high", description="Paint the rail")
    assert found(projected, world, area="B2", priority="high", template_key="hot-work") == {both}
    assert found(projected, world, area="B2", priority="high", status="draft") == {both, cold}
    assert found(projected, world, area="B2", priority="high", q="bracket") == {both}
    assert found(projected, world, area="B2", priority="high", status="submitted") == set()


# --- RM-03 sorting -----------------------------------------------------------------------------------------


SORT_KEYS = [
    "created_at",
    "planned_start",
    "planned_end",
    "valid_until",
    "risk_score",
    "number",
    "priority",
    "status",
]


@pytest.fixture
def sortable(world: World) -> dict[str, dict[uuid.UUID, Any]]:
    """Four permits whose values differ per sort key, each key with a tie; returns {key: {permit: value}}."""
    t = START
    p1 = world.draft(
        planned_start=t + timedelta(hours=2),
        planned_end=t + timedelta(hours=6),
        probability=1,
        severity=1,
        priority="high",
    )
    p2 = world.submitted(  # created at the same instant as p1
        planned_start=t + timedelta(hours=1),
        planned_end=t + timedelta(hours=6),
        probability=4,
        severity=4,
        priority="low",
    )
    world.clock.advance(timedelta(minutes=10))
    p3 = world.draft(
        planned_start=t + timedelta(hours=2),
        planned_end=t + timedelta(hours=4),
        probability=2,
        severity=3,
        priority="high",
    )
    world.clock.advance(timedelta(minutes=10))
    p4 = world.draft(
        template="cold-work",
        planned_start=t + timedelta(hours=3),
        planned_end=t + timedelta(hours=5),
        probability=1,
        severity=1,
        priority="critical",
    )
    values: dict[str, dict[uuid.UUID, Any]] = {key: {} for key in SORT_KEYS}
    for pid in (p1, p2, p3, p4):
        s = world.permit(pid)
        values["created_at"][pid] = s.created_at
        values["planned_start"][pid] = s.content.planned_start
        values["planned_end"][pid] = s.content.planned_end
        values["valid_until"][pid] = s.valid_until
        values["risk_score"][pid] = s.risk_score
        values["number"][pid] = s.number
        values["priority"][pid] = PRIORITY_RANK[s.content.priority]
        values["status"][pid] = list(Status).index(s.status)  # RM-03: lifecycle order
    return values


def expected_order(world: World, values: dict[uuid.UUID, Any], descending: bool) -> list[uuid.UUID]:
    by_number = sorted(values, key=lambda pid: number(world, pid))
    return sorted(by_number, key=lambda pid: values[pid], reverse=descending)  # stable: ties stay by number


@pytest.mark.parametrize("key", SORT_KEYS)
def test_RM_03_every_sort_key_ascending_and_descending_with_ties_by_number(
    key: str, world: World, projected: Projected, sortable: dict[str, dict[uuid.UUID, Any]]
) -> None:
    values = sortable[key]
    distinct = set(values.values())
    assert len(distinct) > 1, "the data must order the permits"
    if key != "number":
        assert len(distinct) < len(values), "the data must hold a tie"
    for descending in (False, True):
        page = listed(projected, world, sort=f"-{key}" if descending else key)
        assert [i.id for i in page.items] == expected_order(world, values, descending), (key, descending)


def test_RM_03_the_default_sort_is_newest_first_ties_by_number(
    world: World, projected: Projected, sortable: dict[str, dict[uuid.UUID, Any]]
) -> None:
    page = listed(projected, world)
    assert [i.id for i in page.items] == expected_order(world, sortable["created_at"], descending=True)
    tied = [i.number for i in page.items][-2:]  # p1 and p2 share created_at
    assert tied == sorted(tied)


# --- RM-04 paging, RM-05 items -----------------------------------------------------------------------------


def test_RM_04_pages_from_one_with_total(world: World, projected: Projected) -> None:
    made = []
    for _ in range(5):
        made.append(number(world, world.draft()))
        world.clock.advance(timedelta(minutes=1))
    newest_first = list(reversed(made))
    pages = [listed(projected, world, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert [numbers(p) for p in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:], []]
    assert {(p.total, p.page_size) for p in pages} == {(5, 2)}
    assert [p.page for p in pages] == [1, 2, 3, 4]
    assert pages[0].as_of_position == world.service.store.head_position()


def test_RM_04_page_size_defaults_to_20_and_may_be_100(world: World, projected: Projected) -> None:
    for _ in range(21):
        world.draft()
    first = listed(projected, world)
    assert (len(first.items), first.page, first.page_size, first.total) == (20, 1, 20, 21)
    assert len(listed(projected, world, page=2).items) == 1
    assert len(listed(projected, world, page_size=100).items) == 21


def test_RM_05_a_list_item_holds_the_permit_summary(world: World, projected: Projected) -> None:
    world.add_person("pa", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    pid = world.under_review(
        title="Weld bracket", priority="high", area="B2", location="Rack 7", performing_authority="pa"
    )
    s = world.permit(pid)
    (item,) = listed(projected, world).items
    assert item.id == pid
    assert (item.number, item.title, item.category) == (s.number, "Weld bracket", "hot_work")
    assert (item.template_key, item.template_version) == ("hot-work", s.template.version)
    assert (item.status, item.effective_status) == (Status.UNDER_REVIEW, Status.UNDER_REVIEW)
    assert item.priority.value == "high"
    assert (item.risk_score, item.risk_level, item.effective_risk_level) == (
        s.risk_score,
        s.risk_level,
        s.effective_risk_level,
    )
    assert (item.area, item.location) == ("B2", "Rack 7")
    assert (item.planned_start, item.planned_end) == (s.content.planned_start, s.content.planned_end)
    assert item.valid_until == s.valid_until
    assert (item.performing_authority, item.requestor) == ("pa", "req")
    assert item.open_conflicts == 0
    assert item.version == s.version == len(world.service.history(pid))


# --- refusals, tenancy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"status": "bogus"}, "status"),
        ({"status": "active,bogus"}, "status"),
        ({"status": " , "}, "status"),
        ({"sort": "title"}, "sort"),
        ({"sort": "-bogus"}, "sort"),
        ({"page": 0}, "page"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"planned_start_to": "2026-13-45"}, "planned_start_to"),
        ({"valid_until_to": "2026-11-25T10:00:00"}, "valid_until_to"),  # naive: no offset
        ({"planned_end_from": "2026-11-25T10:00"}, "planned_end_from"),
        ({"priority": "urgent"}, "priority"),
        ({"risk_level": "severe"}, "risk_level"),
        ({"colour": "red"}, "colour"),  # unknown field
        ({"page": "two"}, "page"),
        ({"has_open_conflict": "maybe"}, "has_open_conflict"),
    ],
)
def test_RM_01_to_RM_04_bad_input_is_refused_naming_the_parameter(
    query: dict[str, Any], parameter: str, world: World, projected: Projected
) -> None:
    world.draft()
    with pytest.raises(InvalidQuery) as refused:
        listed(projected, world, **query)
    assert refused.value.parameter == parameter


def test_TIME_05_as_of_must_be_an_instant(world: World, projected: Projected) -> None:
    reads = projected.catch_up()
    with pytest.raises(InvalidQuery) as refused:
        list_permits(reads, world.project_id, PermitQuery(), as_of=datetime(2026, 11, 25, 8))
    assert refused.value.parameter == "as_of"


def test_RM_01_query_string_text_is_coerced(world: World, projected: Projected) -> None:
    for _ in range(3):
        world.draft()
    page = listed(projected, world, page="2", page_size="2", has_open_conflict="false")
    assert (page.page, page.page_size, page.total, len(page.items)) == (2, 2, 3, 1)


def test_TEN_02_a_permit_of_another_project_never_appears(
    world: World, projected: Projected, service: Any, clock: Any
) -> None:
    south = World.create(service, clock, code="SOUTH")
    mine = world.draft(area="A1", work_order_id="WO-1")
    theirs = south.draft(area="A1", work_order_id="WO-1")
    queries: list[dict[str, Any]] = [
        {},
        {"area": "A1"},
        {"q": "wo-1"},
        {"assignee": "req"},
        {"status": "draft"},
        {"q": number(south, theirs).lower()},
    ]
    for query in queries:
        assert theirs not in found(projected, world, **query)
        assert mine not in found(projected, south, **query)
    assert found(projected, world) == {mine}
    assert found(projected, south) == {theirs}
    reads: ReadSide = projected.catch_up()
    assert list_permits(reads, uuid.uuid4(), PermitQuery(), as_of=world.clock.now()).total == 0
