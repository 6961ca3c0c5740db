# ruff: noqa: N802
"""Section 8: SIMOPS — place and time overlap, severity by rule, the newer permit blocked, decisions bound to the
facts hash, idempotent detection, clearing, and the register index."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, GuardFailed, ValidationFailed
from ptw_domain.roles import Role
from ptw_domain.simops import commands as sc
from ptw_domain.simops.streams import register_id
from ptw_domain.store.streams import fold
from tests.builders import World, approve


@pytest.fixture
def site(world: World) -> World:
    world.publish_template({"key": "tank", "category": "confined_space"})
    return world


def conflicts(world: World, pid: uuid.UUID) -> list[dict[str, object]]:
    return [b.facts for b in world.service.readiness(pid).actions["approve"].blockers if b.rule == "SIM-06"]


def register_events(world: World, project_id: uuid.UUID) -> list[str]:
    return [e.type for e in world.service.store.events.get(register_id(project_id))]


def test_SIM_01_to_07_a_newer_hot_work_permit_in_the_same_area_is_blocked(site: World) -> None:
    world = site
    older = world.submitted(template="tank", area="U100")
    world.clock.advance(timedelta(minutes=5))
    newer = world.under_review(area="U100")  # hot work: SIM-M01 with confined space, high
    blocking = conflicts(world, newer)
    assert [(f["rule"], f["severity"], f["older"], f["newer"]) for f in blocking] == [
        ("SIM-M01", "high", str(older), str(newer))
    ]
    assert blocking[0]["overlapping"] == {"areas": ["U100"], "equipment": ["P-101"]}
    assert conflicts(world, older) == []  # SIM-06 blocks only the newer permit
    with pytest.raises(GuardFailed) as refused:
        world.run(approve(world, newer))
    assert refused.value.rule_ids == ("SIM-06",)


def test_SIM_07_entries_at_the_same_instant_make_the_higher_number_the_newer(site: World) -> None:
    """SIM-07: the newer permit is the later entry into the candidate set; at the same instant the higher number
    is the newer, whichever was submitted first."""
    world = site
    lower = world.draft(area="U100")  # hot work, drafted first: the lower number
    higher = world.draft(template="tank", area="U100")
    world.nominate_and_submit(higher)  # submitted first, at the same instant (the clock does not move)
    world.nominate_and_submit(lower)
    assert world.permit(lower).number < world.permit(higher).number
    [facts] = conflicts(world, higher)
    assert (facts["older"], facts["newer"]) == (str(lower), str(higher))
    assert conflicts(world, lower) == []


def test_SIM_02_different_places_or_SIM_03_times_that_only_touch_do_not_conflict(site: World) -> None:
    world = site
    first = world.submitted(template="tank", area="U100")
    end = world.permit(first).valid_until
    other_place = world.submitted(area="U200", equipment_tags=("P-900",))
    touching = world.submitted(area="U100", planned_start=end, planned_end=end + timedelta(hours=4))
    assert conflicts(world, other_place) == [] and conflicts(world, touching) == []


def test_SIM_05_pairs_without_a_rule_give_a_low_notice(site: World) -> None:
    world = site
    world.submitted(template="cold-work", area="U300")
    later = world.submitted(template="cold-work", area="U300")
    warnings = world.service.readiness(later).actions["approve"].warnings
    assert [w.code for w in warnings if w.rule == "SIM-06"] == ["simops_low"]
    assert world.service.readiness(later).progress["open_conflicts"] == {"high": 0, "medium": 0, "low": 1}


def test_SIM_08_an_accepted_decision_clears_the_block_for_its_facts_only(site: World) -> None:
    world = site
    world.submitted(template="tank", area="U100")
    # a short hot-work job inside the tank permit's window: its own end bounds the overlap
    newer = world.under_review(area="U100", planned_end=world.clock.now() + timedelta(hours=3))
    cid = uuid.UUID(str(conflicts(world, newer)[0]["conflict_id"]))
    with pytest.raises(Forbidden):
        world.run(
            sc.ResolveConflict(
                actor=world.actor("app"), conflict_id=cid, decision="accept_with_controls", controls="x"
            )
        )
    with pytest.raises(ValidationFailed):
        world.run(
            sc.ResolveConflict(actor=world.actor("area"), conflict_id=cid, decision="accept_with_controls")
        )
    world.run(
        sc.ResolveConflict(
            actor=world.actor("area"),
            conflict_id=cid,
            decision="accept_with_controls",
            controls="Fire blanket over the manway; continuous gas monitor",
        )
    )
    assert conflicts(world, newer) == []
    world.run(approve(world, newer))
    # changed facts (the window) reopen it: the decision was for the old hash
    world.run(
        c.RequestExtension(
            actor=world.actor("req"),
            permit_id=newer,
            extension_id=uuid.uuid4(),
            requested_end=world.permit(newer).valid_until + timedelta(hours=2),
            reason="more welding",
        )
    )
    state = world.service.store.repository.get(cid, projector_func=fold).state  # type: ignore[arg-type]
    assert state.decisions[0].facts_hash != state.facts_hash
    assert [f["conflict_id"] for f in conflicts(world, newer)] == [str(cid)]  # open again: new facts


def test_SOD_06_the_newer_permits_parties_cannot_resolve(site: World) -> None:
    world = site
    world.submitted(template="tank", area="U100")
    newer = world.under_review(area="U100")
    cid = uuid.UUID(str(conflicts(world, newer)[0]["conflict_id"]))
    world.add_person("ver", Role.VERIFIER, Role.AREA_AUTHORITY, level=2)  # the newer permit's verifier
    with pytest.raises(GuardFailed) as refused:
        world.run(sc.ResolveConflict(actor=world.actor("ver"), conflict_id=cid, decision="not_accepted"))
    assert refused.value.rule_ids == ("SOD-06",)


def test_SIM_11_SIM_12_detection_is_deterministic_idempotent_and_leaving_the_candidate_set_clears(
    site: World,
) -> None:
    world = site
    world.submitted(template="tank", area="U100")
    newer = world.submitted(area="U100")
    found = [
        b.facts for b in world.service.readiness(newer).actions["approve"].blockers if b.rule == "SIM-06"
    ]
    cid = uuid.UUID(str(found[0]["conflict_id"]))
    world.run(c.WithdrawPermit(actor=world.actor("req"), permit_id=newer))
    world.run(c.SubmitPermit(actor=world.actor("req"), permit_id=newer, signature=world.signature(newer)))
    types = [e.type for e in world.service.store.events.get(cid)]
    assert types == [
        "ConflictDetected",
        "ConflictCleared",
        "ConflictUpdated",
    ]  # one stream, never a duplicate


def test_SIM_09_only_footprint_changes_touch_the_register(site: World) -> None:
    world = site
    pid = world.submitted(area="U100")
    before = register_events(world, world.project_id)
    world.run(c.EditPermit(actor=world.actor("req"), permit_id=pid, changes=c.PermitChanges(notes="n")))
    assert register_events(world, world.project_id) == before


def test_SIM_03_an_expired_permit_occupies_until_further_notice(site: World) -> None:
    world = site
    expiring = world.approved(template="cold-work", area="U500", equipment_tags=("P-500",))
    world.clock.advance(timedelta(hours=4))  # start window missed: expired at the sweep
    world.service.run_sweep()
    assert world.permit(expiring).status == "expired"
    much_later = world.clock.now() + timedelta(hours=20)
    later = world.submitted(
        template="cold-work",
        area="U500",
        equipment_tags=("P-500",),
        planned_start=much_later,
        planned_end=much_later + timedelta(hours=2),
    )
    assert world.service.readiness(later).progress["open_conflicts"]["low"] == 1


def test_AUD_04_a_permits_verification_covers_its_conflicts(site: World) -> None:
    world = site
    older = world.submitted(template="tank", area="U100")
    newer = world.submitted(area="U100")
    streams = world.service.permit_streams(newer)
    assert len(streams) == 2 and streams[0] == newer
    assert world.service.permit_streams(older)[1] == streams[1]  # the same conflict stream, from both sides
    assert all(v.ok for v in world.service.verify_chain(streams))


def test_SIM_06_an_extension_into_a_high_conflict_is_not_approved_while_it_is_open(site: World) -> None:
    world = site
    welding = world.approved(area="U700", equipment_tags=("P-700",))
    end = world.permit(welding).valid_until
    # a tank entry planned right after the welding window: no overlap yet
    world.submitted(
        template="tank",
        area="U700",
        equipment_tags=("P-700",),
        planned_start=end,
        planned_end=end + timedelta(hours=6),
    )
    extension_id = uuid.uuid4()
    world.run(
        c.RequestExtension(
            actor=world.actor("req"),
            permit_id=welding,
            extension_id=extension_id,
            requested_end=end + timedelta(hours=2),
            reason="weld repair took longer",
        )
    )
    decide = c.DecideExtension(
        actor=world.actor("app2"),
        permit_id=welding,
        extension_id=extension_id,
        approve=True,
        reassessment_confirmed=True,  # the new end is in the night shift (EXT-07)
        signature=world.signature(welding),
    )
    with pytest.raises(GuardFailed) as refused:
        world.run(decide)
    assert refused.value.rule_ids == ("SIM-06",)
    cid = uuid.UUID(str(refused.value.blockers[0].facts["conflict_id"]))
    world.run(
        sc.ResolveConflict(
            actor=world.actor("area"),
            conflict_id=cid,
            decision="accept_with_controls",
            controls="Welding finishes before the manway is opened; LEL monitor at the tank",
        )
    )
    world.run(decide)
    assert world.permit(welding).valid_until == end + timedelta(hours=2)
