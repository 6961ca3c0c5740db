# ruff: noqa: N802
"""The audit trail read model (RM-11): one row per event in position order with its envelope, summary, before and
after values and hash; filters by permit, stream, actor, type and time (RM-02 bounds); RM-04 paging; refusals
naming the parameter; scoped to one project (TEN-02)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.events.base import Recorded
from ptw_domain.roles import Role
from ptw_domain.service import PermitService
from ptw_domain.store.mapper import decode_event
from ptw_projections.audit_trail.query import AuditEntry, AuditPage, AuditQuery, list_audit_events
from ptw_projections.database import ReadDatabase
from ptw_projections.errors import InvalidQuery
from ptw_projections.folding import History, Versions
from ptw_projections.params import parse_query
from ptw_projections.registry import projections
from ptw_projections.runner import Runner
from tests.builders import START, World, approve, create, edit
from tests.projections.conftest import Projected


def trail(projected: Projected, world: World, **query: Any) -> AuditPage:
    """The audit trail of `world`'s project after catching up."""
    reads = projected.catch_up()
    return list_audit_events(reads, world.project_id, parse_query(query, AuditQuery))


def rows(projected: Projected, world: World, **query: Any) -> list[AuditEntry]:
    """Every row the query selects (checked to fit in one page)."""
    page = trail(projected, world, page_size=100, **query)
    assert page.total == len(page.items)
    return page.items


def stored(service: PermitService) -> list[tuple[int, Recorded[Any]]]:
    """Every event in the store with its global position."""
    head = service.store.head_position()
    notifications = service.store.recorder.select_notifications(
        start=0, limit=head + 1, stop=head, inclusive_of_start=False
    )
    return [(n.id, decode_event(n.topic, n.state)) for n in notifications]


def of_project(service: PermitService, project_id: uuid.UUID) -> list[tuple[int, uuid.UUID]]:
    return [(p, r.event_id) for p, r in stored(service) if r.metadata.project_id == project_id]


def test_RM_11_one_row_per_event_of_the_project_in_global_position_order(
    world: World, projected: Projected
) -> None:
    world.submitted()
    world.under_review()
    page = trail(projected, world, page_size=100)
    expected = of_project(world.service, world.project_id)
    assert len(expected) > 10
    assert [(e.position, e.event_id) for e in page.items] == expected
    assert page.total == len(expected)
    positions = [e.position for e in page.items]
    assert positions == sorted(set(positions))
    assert page.as_of_position == world.service.store.head_position()


def test_RM_11_AUD_01_a_row_carries_the_recorded_envelope_and_hash(
    world: World, projected: Projected
) -> None:
    context = c.CommandContext(correlation_id="corr-1", causation_id="cause-1", device_id="tablet-7")
    command = create(world, context=context)
    world.run(command)
    pid = command.permit_id
    world.nominate_and_submit(pid)
    history = world.service.history(pid)
    entries = rows(projected, world, permit=str(pid))
    assert [e.event_id for e in entries] == [r.event_id for r in history]
    for entry, recorded in zip(entries, history, strict=True):
        assert entry.stream_id == pid
        assert entry.stream_type == "permit"
        assert entry.permit_number == world.permit(pid).number
        assert (entry.version, entry.type) == (recorded.version, recorded.type)
        assert entry.occurred_at == recorded.occurred_at
        assert (entry.actor_id, entry.actor_kind) == ("req", recorded.metadata.actor.kind)
        assert entry.roles == list(recorded.metadata.actor.roles) == ["requestor"]
        assert entry.hash == recorded.hash
        assert (entry.on_behalf_of, entry.delegation_id, entry.rule) == (None, None, None)
    drafted = entries[0]
    assert drafted.type == "PermitDrafted"
    assert (drafted.correlation_id, drafted.causation_id, drafted.device_id) == (
        "corr-1",
        "cause-1",
        "tablet-7",
    )
    assert (entries[-1].correlation_id, entries[-1].device_id) == (None, None)  # the next commands gave none


def test_RM_11_a_summary_and_the_before_and_after_of_changed_fields(
    world: World, projected: Projected
) -> None:
    pid = world.draft(title="Old title")
    world.run(edit(world, pid, title="New title", location="Rack 9"))
    world.nominate_and_submit(pid)
    by_type = {e.type: e for e in rows(projected, world, permit=str(pid))}
    edited = by_type["PermitEdited"]
    assert edited.changes["content.title"] == ["Old title", "New title"]
    assert edited.changes["content.location"] == ["Pipe rack 3", "Rack 9"]
    assert "content.area" not in edited.changes  # unchanged fields are not shown
    assert edited.summary == "Permit edited by req"
    submitted = by_type["PermitSubmitted"]
    assert submitted.changes["status"] == ["draft", "submitted"]
    assert submitted.changes["cycle"] == [0, 1]
    assert submitted.summary == "Permit submitted by req (status draft → submitted)"
    assert by_type["VerifierNominated"].changes["verifier"][0] is None
    assert by_type["VerifierNominated"].changes["verifier"][1]["person_id"] == "ver"


def test_RM_11_DEL_02_an_act_under_delegation_shows_the_delegate_and_on_behalf_of(
    world: World, projected: Projected
) -> None:
    world.add_person("dep", Role.APPROVER)
    pid = world.under_review()
    did = uuid.uuid4()
    world.run(
        c.GrantDelegation(
            actor=world.actor("app"),
            delegation_id=did,
            project_id=world.project_id,
            delegate=world.people["dep"],
            role="approver",
            valid_until=world.clock.now() + timedelta(hours=24),
            permit_id=pid,
        )
    )
    world.run(approve(world, pid, "dep", delegation_id=did))
    (approved,) = rows(projected, world, permit=str(pid), type="PermitApproved")
    assert (approved.actor_id, approved.on_behalf_of, approved.delegation_id) == ("dep", "app", did)
    assert approved.summary == "Permit approved by dep on behalf of app (status under_review → approved)"
    (granted,) = rows(projected, world, stream=str(did))
    assert (granted.type, granted.stream_type, granted.actor_id) == ("DelegationGranted", "delegation", "app")
    assert granted.permit_number is None


def test_RM_11_AUD_12_an_act_of_the_system_names_its_rule(world: World, projected: Projected) -> None:
    pid = world.active()
    world.clock.set(world.permit(pid).valid_until + timedelta(minutes=1))
    world.service.run_sweep()
    (expired,) = rows(projected, world, permit=str(pid), type="PermitExpired")
    recorded = world.service.history(pid)[-1]
    assert recorded.type == "PermitExpired" and recorded.metadata.rule is not None
    assert (expired.rule, expired.actor_kind) == (recorded.metadata.rule, recorded.metadata.actor.kind)
    assert f"({recorded.metadata.rule})" in expired.summary
    assert expired.changes["status"] == ["active", "expired"]


def test_RM_11_a_map_that_only_grew_shows_what_was_added(world: World, projected: Projected) -> None:
    """A project's map of permit numbers grows with every permit: each allocation shows its own entry, not the
    whole map twice (which would make the rows grow with the project's history)."""
    first, second = world.draft(), world.draft()
    allocated = rows(projected, world, stream=str(world.project_id), type="PermitNumberAllocated")
    numbers = [world.permit(pid).number for pid in (first, second)]
    assert allocated[0].changes["permits"] == [{}, {numbers[0]: str(first)}]  # nothing before: shown whole
    assert allocated[1].changes["permits"] == {"added": {numbers[1]: str(second)}}
    assert len(allocated[1].changes["sequences"]) == 2  # a value that changed: [before, after]


def test_RM_11_a_runner_started_with_nothing_in_memory_reads_the_states_it_lacks_from_the_store(
    world: World, projected: Projected, read_db: ReadDatabase
) -> None:
    """A restarted runner holds no state: the before values of its first events come from the store (the
    version before each event), so its rows equal those of the runner that saw everything, and a rebuild's."""
    pid = world.draft(title="Old title")
    projected.catch_up()
    world.run(edit(world, pid, title="New title"))
    world.nominate_and_submit(pid)
    restarted = Runner(world.service.store, read_db, projections(["audit_trail"])[0])
    restarted.catch_up(restarted.live_generation())
    by_type = {e.type: e for e in rows(projected, world, permit=str(pid))}
    assert by_type["PermitEdited"].changes["content.title"] == ["Old title", "New title"]
    assert by_type["PermitSubmitted"].changes["status"] == ["draft", "submitted"]
    before = rows(projected, world)
    restarted.rebuild()
    assert rows(projected, world) == before


def test_RM_11_a_state_is_read_from_the_store_at_the_version_before_the_event(world: World) -> None:
    """Kept states are used only when they are one version behind the event; any other is read from the store."""
    pid = world.approved()
    history = History(world.service.store)
    recorded = world.service.history(pid)
    assert len(recorded) >= 5
    states = Versions[Any]("permit")
    assert states.before(recorded[0], history) is None  # the first event has no before
    fold = [states.after(r, states.before(r, history)) for r in recorded]
    assert fold[-1] == world.permit(pid)
    fresh = Versions[Any]("permit")  # nothing in memory: read from the store
    assert fresh.before(recorded[-1], history) == fold[-2]
    assert fresh.before(recorded[2], history) == fold[1]
    fresh.after(recorded[2], fold[1])  # holds version 3 now; asked for the state before version 5
    assert fresh.before(recorded[4], history) == fold[3]


# --- filters ---------------------------------------------------------------------------------------------


def test_RM_11_filter_by_permit_gives_that_permits_stream(world: World, projected: Projected) -> None:
    first = world.submitted()
    second = world.draft()
    assert [e.event_id for e in rows(projected, world, permit=str(first))] == [
        r.event_id for r in world.service.history(first)
    ]
    assert {e.stream_id for e in rows(projected, world, permit=str(second))} == {second}
    assert rows(projected, world, permit=str(uuid.uuid4())) == []


def test_RM_11_filter_by_stream(world: World, projected: Projected) -> None:
    pid = world.draft()
    project = rows(projected, world, stream=str(world.project_id))
    assert [e.type for e in project][:1] == ["ProjectOpened"]
    assert {(e.stream_id, e.stream_type) for e in project} == {(world.project_id, "project")}
    assert {e.stream_id for e in rows(projected, world, stream=str(pid))} == {pid}


def test_RM_11_filter_by_actor(world: World, projected: Projected) -> None:
    pid = world.under_review()
    by_ver = rows(projected, world, actor="ver")
    assert {e.actor_id for e in by_ver} == {"ver"}
    assert [e.stream_id for e in by_ver if e.stream_type == "permit"] == [pid]
    assert {e.type for e in by_ver} == {
        "PermitVerified",
        "SimopsFootprintRecorded",
    }  # with the SIMOPS register
    assert {e.actor_id for e in rows(projected, world, actor="req")} == {"req"}
    assert rows(projected, world, actor="nobody") == []


def test_RM_11_filter_by_type_takes_a_comma_list(world: World, projected: Projected) -> None:
    first = world.submitted()
    second = world.submitted()
    submitted = rows(projected, world, type="PermitSubmitted")
    assert [(e.type, e.stream_id) for e in submitted] == [
        ("PermitSubmitted", first),
        ("PermitSubmitted", second),
    ]
    both = rows(projected, world, type="PermitDrafted, PermitSubmitted")
    assert [e.type for e in both] == ["PermitDrafted", "PermitSubmitted"] * 2
    assert rows(projected, world, type="PermitClosed") == []


def test_RM_11_RM_02_filter_by_time_with_inclusive_bounds_and_whole_days(
    world: World, projected: Projected
) -> None:
    first = world.draft()
    world.clock.set(datetime.fromisoformat("2026-11-25T23:59:59+00:00"))
    t1 = world.clock.now()
    second = world.draft()
    t2 = world.clock.advance(timedelta(seconds=1))  # the 26th (the World's project is on UTC)
    third = world.draft()

    def drafted(**query: Any) -> list[uuid.UUID]:
        return [e.stream_id for e in rows(projected, world, type="PermitDrafted", **query)]

    assert drafted(occurred_from=t1.isoformat(), occurred_to=t1.isoformat()) == [second]  # inclusive
    assert drafted(occurred_from=t1.isoformat()) == [second, third]
    assert drafted(occurred_to=(t1 - timedelta(seconds=1)).isoformat()) == [first]
    assert drafted(occurred_to="2026-11-25") == [first, second]  # the whole day
    assert drafted(occurred_from="2026-11-26", occurred_to="2026-11-26") == [third]
    assert drafted(occurred_from="2026-11-26T09:00:00+09:00") == [third]  # = t2, any offset
    assert t2 == datetime.fromisoformat("2026-11-26T00:00:00+00:00")
    assert [e.occurred_at for e in rows(projected, world, occurred_to="2026-11-24")] == []
    assert all(e.occurred_at >= START for e in rows(projected, world, occurred_from="2026-11-25"))


def test_RM_11_RM_02_a_date_only_bound_is_a_day_in_the_project_time_zone(
    world: World, projected: Projected
) -> None:
    project_id = uuid.uuid4()
    world.run(
        c.OpenProject(
            actor=world.actor("admin", org_admin=True),
            project_id=project_id,
            organisation_id=world.organisation_id,
            code="EAST",
            title="East site",
            time_zone="Asia/Tokyo",  # UTC+9
        )
    )
    tokyo = dataclasses.replace(world, project_id=project_id)
    world.clock.set(datetime.fromisoformat("2026-11-25T14:59:59+00:00"))  # 23:59:59 on the 25th in Tokyo
    late = tokyo.draft()
    world.clock.advance(timedelta(seconds=1))  # 00:00 on the 26th in Tokyo, still the 25th in UTC
    next_day = tokyo.draft()

    def drafted(**query: Any) -> list[uuid.UUID]:
        return [e.stream_id for e in rows(projected, tokyo, type="PermitDrafted", **query)]

    assert drafted(occurred_to="2026-11-25") == [late]
    assert drafted(occurred_from="2026-11-26", occurred_to="2026-11-26") == [next_day]


def test_RM_11_filters_combine_with_AND(world: World, projected: Projected) -> None:
    first = world.submitted()
    world.submitted()
    entries = rows(projected, world, permit=str(first), actor="req", type="PermitSubmitted,PermitDrafted")
    assert [(e.type, e.stream_id) for e in entries] == [("PermitDrafted", first), ("PermitSubmitted", first)]
    assert rows(projected, world, permit=str(first), actor="ver") == []


# --- paging, refusals, tenancy -----------------------------------------------------------------------------


def test_RM_11_RM_04_pages_in_position_order(world: World, projected: Projected) -> None:
    world.submitted()
    everything = trail(projected, world, page_size=100).items
    pages = [trail(projected, world, page=n, page_size=4) for n in range(1, len(everything) // 4 + 3)]
    assert [e for p in pages for e in p.items] == everything
    assert {(p.total, p.page_size) for p in pages} == {(len(everything), 4)}
    assert pages[-1].items == []
    default = trail(projected, world)
    assert (default.page, default.page_size, len(default.items)) == (1, 20, min(20, len(everything)))


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"type": "PermitTeleported"}, "type"),
        ({"type": "PermitDrafted,Bogus"}, "type"),
        ({"type": " , "}, "type"),
        ({"page": 0}, "page"),
        ({"page_size": 101}, "page_size"),
        ({"occurred_from": "last tuesday"}, "occurred_from"),
        ({"occurred_to": "2026-11-25T10:00:00"}, "occurred_to"),  # naive: no offset
        ({"occurred_to": "2026-02-30"}, "occurred_to"),
        ({"permit": "not-a-uuid"}, "permit"),
        ({"stream": "42"}, "stream"),
        ({"colour": "red"}, "colour"),  # unknown field
    ],
)
def test_RM_11_bad_input_is_refused_naming_the_parameter(
    query: dict[str, Any], parameter: str, world: World, projected: Projected
) -> None:
    with pytest.raises(InvalidQuery) as refused:
        trail(projected, world, **query)
    assert refused.value.parameter == parameter


def test_TEN_02_events_of_another_project_never_appear(
    world: World, projected: Projected, service: PermitService, clock: Any
) -> None:
    south = World.create(service, clock, code="SOUTH")
    mine = world.submitted()
    theirs = south.submitted()
    north_events = rows(projected, world)
    assert [(e.position, e.event_id) for e in north_events] == of_project(service, world.project_id)
    south_ids = {r.event_id for r in world.service.history(theirs)}
    assert south_ids.isdisjoint(e.event_id for e in north_events)
    assert rows(projected, world, permit=str(theirs)) == []
    assert rows(projected, world, stream=str(south.project_id)) == []
    assert {e.stream_id for e in rows(projected, world, actor="req", type="PermitSubmitted")} == {mine}
    assert {e.stream_id for e in rows(projected, south, type="PermitSubmitted")} == {theirs}
    reads = projected.catch_up()
    assert list_audit_events(reads, uuid.uuid4(), AuditQuery()).total == 0
