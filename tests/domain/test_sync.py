# ruff: noqa: N802
"""Section 16: offline sync (SYNC-01..13) through `PermitService.sync`, on every backend.

Given a world (tests/builders.py) and a device that worked offline, When its batch is synced, Then each command's
outcome is what the rule says, the ledger records it once, and a repeat records nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, ValidationFailed
from ptw_domain.events.sync import SyncOutcome
from ptw_domain.gas import commands as gc
from ptw_domain.isolation import commands as ic
from ptw_domain.presence import ScanEvidence
from ptw_domain.roles import Actor, ActorKind, Role
from ptw_domain.signatures import SignatureInput
from ptw_domain.sync import SyncBatch, SyncItem, SyncReport, temporary_id
from ptw_domain.sync.ledger import ledger_id
from tests.builders import World, create, edit, nominate, submit

DEVICE = "tablet-7"


def item(
    world: World,
    ccid: str,
    command: c.Command,
    *,
    target: str | None = None,
    base: int | None = None,
    at: datetime | None = None,
    **kw: Any,
) -> SyncItem:
    """An offline command made at `at` (default: now) on the device, based on version `base`."""
    if target is None:
        field = "permit_id" if isinstance(command, c.PermitCommand) else "isolation_id"
        value = getattr(command, field, None)
        target = str(value) if value is not None and not isinstance(command, c.CreatePermit) else None
    return SyncItem(
        client_command_id=ccid,
        name=type(command).__name__,
        device_time=at or world.clock.now(),
        command=command,
        target=target,
        based_on_version=base,
        **kw,
    )


def sync(world: World, *items: SyncItem, actor: str | Actor = "req", device: str = DEVICE) -> SyncReport:
    batch = SyncBatch(
        device_id=device, batch_id=f"batch-{uuid.uuid4().hex[:6]}", sent_at=world.clock.now(), commands=items
    )
    who = actor if isinstance(actor, Actor) else world.actor(actor)
    return world.service.sync(batch, who, within=world.project_id)


def only(report: SyncReport) -> SyncOutcome:
    assert len(report.results) == 1
    return report.results[0].outcome


def version(world: World, pid: uuid.UUID) -> int:
    return world.permit(pid).version


def placeholder(world: World, ref: str, command: type[c.PermitCommand], **fields: Any) -> Any:
    """A command aimed at a temporary reference: its target holds the reference's placeholder id."""
    return command(actor=world.actor("req"), permit_id=temporary_id(ref), **fields)


# --- SYNC-01, SEC-04 ---------------------------------------------------------------------------------------


def test_SYNC_01_a_batch_of_more_than_200_commands_is_refused(world: World) -> None:
    pid = world.draft()
    items = [item(world, f"c{i}", edit(world, pid, title=f"t{i}"), base=1) for i in range(201)]
    with pytest.raises(ValidationFailed) as refusal:
        sync(world, *items)
    assert "SYNC-01" in refusal.value.rule_ids
    assert version(world, pid) == 1


def test_SEC_04_auditors_and_integrations_may_not_sync(world: World) -> None:
    pid = world.draft()
    world.add_person("aud", Role.AUDITOR)
    service = Actor(member=world.people["req"], kind=ActorKind.SERVICE, auth_time=world.clock.now())
    for who in (world.actor("aud"), service):
        with pytest.raises(Forbidden) as refusal:
            sync(world, item(world, "c1", edit(world, pid, title="x"), base=1), actor=who)
        assert refusal.value.rule_ids == ("SEC-04",)


# --- SYNC-02 -------------------------------------------------------------------------------------------------


def test_SYNC_02_a_command_runs_at_server_time_with_its_device_facts_recorded(world: World) -> None:
    pid = world.draft()
    made = world.clock.now()
    world.clock.advance(timedelta(hours=3))
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="Offline title"), base=1, at=made)))
    assert (outcome.outcome, outcome.version, outcome.events) == ("applied", 2, ("PermitEdited",))
    edited = world.service.history(pid)[-1]
    assert edited.occurred_at == world.clock.now()  # server time (TIME-02); the device time is a fact
    assert edited.metadata.device_time == made
    assert (edited.metadata.device_id, edited.metadata.client_command_id) == (DEVICE, "c1")
    assert world.permit(pid).content.title == "Offline title"


def test_SYNC_02_the_online_authorisation_applies_offline(world: World) -> None:
    pid = world.draft()
    outcome = only(
        sync(world, item(world, "c1", edit(world, pid, actor="ver", title="x"), base=1), actor="ver")
    )
    assert (outcome.outcome, outcome.reason) == ("rejected", "forbidden")
    assert version(world, pid) == 1


def test_SYNC_02_a_device_time_ahead_of_the_server_is_rejected_clock_skew(world: World) -> None:
    pid = world.draft()
    ahead = world.clock.now() + timedelta(minutes=6)
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="x"), base=1, at=ahead)))
    assert (outcome.outcome, outcome.reason, outcome.invalid_fields) == (
        "rejected",
        "clock_skew",
        ("device_time",),
    )
    within_skew = world.clock.now() + timedelta(minutes=4)
    assert (
        only(sync(world, item(world, "c2", edit(world, pid, title="y"), base=1, at=within_skew))).outcome
        == "applied"
    )


def test_SYNC_02_a_device_time_older_than_72_hours_is_rejected_too_old(world: World) -> None:
    pid = world.draft()
    made = world.clock.now()
    world.clock.advance(timedelta(hours=72, minutes=1))
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="x"), base=1, at=made)))
    assert (outcome.outcome, outcome.reason, outcome.rule_ids) == ("rejected", "too_old", ("SYNC-02",))
    assert version(world, pid) == 1


def test_SYNC_02_TEN_06_the_offline_age_is_the_projects_setting_when_the_batch_runs(world: World) -> None:
    """`offline_max_age_hours` (72 by default) as the project holds it when the batch reaches the server."""
    pid = world.draft()
    made = world.clock.now()
    world.clock.advance(timedelta(hours=25))
    world.change_settings(offline_max_age_hours=24)
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="x"), base=1, at=made)))
    assert (outcome.outcome, outcome.reason, outcome.detail) == (
        "rejected",
        "too_old",
        "device_time is more than 24 hours old",
    )
    world.change_settings(offline_max_age_hours=26)
    assert (
        only(sync(world, item(world, "c2", edit(world, pid, title="x"), base=1, at=made))).outcome
        == "applied"
    )


def test_SYNC_02_a_device_observation_later_than_the_server_clock_is_rejected_clock_skew(
    world: World,
) -> None:
    pid = world.draft()
    reading = gc.RecordGasReading(
        actor=world.actor("tester"),
        permit_id=pid,
        reading_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        gas="O2",
        value=20.9,
        unit="%vol",
        tested_at=world.clock.now() + timedelta(minutes=30),
        instrument="MX4",
        calibration_due=world.clock.now() + timedelta(days=30),
        tester_worker_id=world.workers["tester"],
    )
    outcome = only(sync(world, item(world, "c1", reading, base=1), actor="tester"))
    assert (outcome.reason, outcome.invalid_fields) == ("clock_skew", ("tested_at",))


# --- SYNC-03 -------------------------------------------------------------------------------------------------


def test_SYNC_03_a_repeated_batch_returns_the_stored_outcomes_and_appends_nothing(world: World) -> None:
    pid = world.draft()
    items = (
        item(world, "c1", edit(world, pid, title="one"), base=1),
        item(world, "c2", submit(world, pid), base=2),  # no verifier nominated: a guard conflict (SYNC-07)
        item(world, "c3", edit(world, uuid.uuid4(), title="x"), base=1),  # unknown: rejected
    )
    first = sync(world, *items)
    head = world.service.store.head_position()
    again = sync(world, *items)
    assert world.service.store.head_position() == head
    assert [r.outcome for r in again.results] == [r.outcome for r in first.results]
    assert [r.outcome.outcome for r in first.results] == ["applied", "conflict", "rejected"]
    assert all(r.replayed for r in again.results) and not any(r.replayed for r in first.results)
    assert again.totals == {"applied": 1, "conflict": 1, "rejected": 1, "replayed": 3}


def test_SYNC_03_the_ledger_entry_is_saved_in_the_same_write_as_the_command(world: World) -> None:
    pid = world.draft()
    before = world.service.store.head_position()
    result = sync(world, item(world, "c1", edit(world, pid, title="one"), base=1)).results[0]
    entry = ledger_id(world.project_id, DEVICE, "c1")
    rows = world.service.store.recorder.select_notifications(start=before, limit=10, inclusive_of_start=False)
    # one save: the edit and its ledger event, and the position answered is that save's
    assert sorted((row.originator_id, row.topic) for row in rows) == sorted(
        [(pid, "PermitEdited"), (entry, "SyncCommandRecorded")]
    )
    assert result.position == max(row.id for row in rows)
    recorded = world.service.store.events.get(entry)
    assert [e.payload.outcome for e in recorded] == [result.outcome]  # type: ignore[attr-defined]


def test_SYNC_03_another_command_under_a_used_id_is_not_a_repeat(world: World) -> None:
    pid = world.draft()
    sync(world, item(world, "c1", edit(world, pid, title="one"), base=1))
    head = world.service.store.head_position()
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="two"), base=1)))
    assert (outcome.outcome, outcome.reason) == ("rejected", "client_command_id_reused")
    assert world.service.store.head_position() == head
    assert world.permit(pid).content.title == "one"


def test_SYNC_03_the_ledger_is_scoped_per_device(world: World) -> None:
    pid = world.draft()
    sync(world, item(world, "c1", edit(world, pid, title="one"), base=1))
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="two"), base=2), device="tablet-8"))
    assert (outcome.outcome, outcome.version) == ("applied", 3)


# --- SYNC-04, SYNC-11, SYNC-13 -------------------------------------------------------------------------------


def test_SYNC_04_a_permit_created_in_the_batch_is_nominated_and_submitted_by_its_temporary_reference(
    world: World,
) -> None:
    signed = SignatureInput(core_hash="tmp", reauthenticated_at=world.clock.now())  # SYNC-11 placeholder
    report = sync(
        world,
        item(world, "c1", create(world), target="tmp:a"),
        item(
            world,
            "c2",
            placeholder(world, "tmp:a", c.NominateVerifier, verifier=world.people["ver"]),
            target="tmp:a",
        ),
        item(world, "c3", placeholder(world, "tmp:a", c.SubmitPermit, signature=signed), target="tmp:a"),
    )
    created, nominated, submitted = (r.outcome for r in report.results)
    pid = created.created["permit_id"]
    assert (created.ref, created.stream_id, created.permit_number) == ("tmp:a", pid, "NORTH-2026-00001")
    assert [o.outcome for o in (created, nominated, submitted)] == ["applied"] * 3
    state = world.permit(pid)
    assert (state.status, state.origin, submitted.version) == ("submitted", "offline_device", state.version)
    assert state.signatures[0].signature.core_hash == state.core_hash  # bound to the server's hash (SYNC-11)
    assert report.totals == {"applied": 3, "conflict": 0, "rejected": 0, "replayed": 0}


def test_SYNC_04_commands_on_a_reference_whose_create_failed_are_rejected_dependency_failed(
    world: World,
) -> None:
    pid = world.draft()
    report = sync(
        world,
        item(world, "c1", edit(world, pid, title="kept"), base=1),
        item(world, "c2", create(world, "no-such-template"), target="tmp:a"),
        item(
            world,
            "c3",
            placeholder(world, "tmp:a", c.NominateVerifier, verifier=world.people["ver"]),
            target="tmp:a",
        ),
        item(world, "c4", edit(world, pid, notes="also kept"), base=2),
    )
    outcomes = [(r.outcome.outcome, r.outcome.reason) for r in report.results]
    assert outcomes == [
        ("applied", None),
        ("rejected", "not_found"),
        ("rejected", "dependency_failed"),
        ("applied", None),
    ]
    assert (world.permit(pid).content.title, world.permit(pid).content.notes) == ("kept", "also kept")


def test_SYNC_11_an_offline_signature_is_judged_against_its_device_time(world: World) -> None:
    pid = world.draft()
    world.run(nominate(world, pid))
    signed_at = world.clock.now()
    world.clock.advance(timedelta(hours=2))
    core = world.permit(pid).core_hash
    stale_token = c.SubmitPermit(
        actor=world.actor("req"), permit_id=pid, signature=SignatureInput(core_hash=core)
    )
    refused = only(sync(world, item(world, "c1", stale_token, base=2, at=signed_at)))
    assert (refused.outcome, refused.reason) == ("rejected", "reauthentication_required")
    device_pin = SignatureInput(
        core_hash=core, reauthenticated_at=signed_at - timedelta(seconds=60), method="pin"
    )
    command = c.SubmitPermit(actor=world.actor("req"), permit_id=pid, signature=device_pin)
    assert only(sync(world, item(world, "c2", command, base=2, at=signed_at))).outcome == "applied"
    signature = world.permit(pid).signatures[0].signature
    assert (signature.reauthenticated_at, signature.reauth_method) == (
        signed_at - timedelta(seconds=60),
        "pin",
    )


def test_SYNC_11_the_core_hash_placeholder_binds_only_to_a_temporary_reference(world: World) -> None:
    pid = world.draft()
    world.run(nominate(world, pid))
    command = c.SubmitPermit(
        actor=world.actor("req"),
        permit_id=pid,
        signature=SignatureInput(core_hash="tmp", reauthenticated_at=world.clock.now()),
    )
    outcome = only(sync(world, item(world, "c1", command, base=2)))
    assert (outcome.outcome, outcome.invalid_fields) == ("rejected", ("signature.core_hash",))
    assert world.permit(pid).status == "draft"


# --- SYNC-05, SYNC-06 ---------------------------------------------------------------------------------------


def test_SYNC_05_a_command_behind_on_a_field_it_does_not_write_is_applied_and_rebased(world: World) -> None:
    pid = world.draft()
    world.run(edit(world, pid, description="Changed on the server"))
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="Offline title"), base=1)))
    assert (outcome.outcome, outcome.rebased_over, outcome.version) == ("applied", ("PermitEdited",), 3)
    content = world.permit(pid).content
    assert (content.description, content.title) == ("Changed on the server", "Offline title")


def test_SYNC_05_06_a_field_changed_on_both_sides_conflicts_with_hints_and_nothing_is_merged(
    world: World,
) -> None:
    pid = world.draft()
    world.run(
        edit(
            world, pid, description="Server text", ppe=("helmet",), checklist_answers={"extinguisher": False}
        )
    )
    device = edit(
        world, pid, description="Device text", ppe=("gloves",), checklist_answers={"extinguisher": True}
    )
    outcome = only(sync(world, item(world, "c1", device, base=1)))
    assert (outcome.outcome, outcome.reason) == ("conflict", "stale_version")
    fields = {f.field: (f.device, f.server, f.hint) for f in outcome.fields}
    assert fields == {
        "description": ("Device text", "Server text", "choose"),
        "ppe": (["gloves"], ["helmet"], "union"),
        "checklist_answers": ({"extinguisher": True}, {"extinguisher": False}, "true_wins"),
    }
    assert outcome.server_state is not None
    assert (outcome.server_state.status, outcome.server_state.version) == ("draft", 2)
    assert world.permit(pid).content.description == "Server text"
    assert version(world, pid) == 2


def test_SYNC_05_a_status_change_after_the_base_version_conflicts(world: World) -> None:
    pid = world.submitted()
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="x"), base=1)))
    assert outcome.reason == "stale_version"
    assert [(f.field, f.device, f.server, f.hint) for f in outcome.fields] == [
        ("status", "draft", "submitted", "server_state")
    ]


def test_SYNC_05_a_signing_command_conflicts_when_the_core_hash_moved(world: World) -> None:
    pid = world.draft()
    world.run(nominate(world, pid))
    seen = submit(world, pid)  # signed over the core hash of version 2
    world.run(edit(world, pid, title="admin field only"))  # v3: core hash unchanged
    assert only(sync(world, item(world, "c1", seen, base=2))).rebased_over == ("PermitEdited",)
    other = world.draft()
    world.run(nominate(world, other))
    signed = submit(world, other)
    world.run(edit(world, other, description="scope changed"))  # v3: core hash changed
    outcome = only(sync(world, item(world, "c2", signed, base=2)))
    assert (outcome.outcome, outcome.reason) == ("conflict", "stale_version")
    assert [f.field for f in outcome.fields] == ["core_hash"]
    assert world.permit(other).status == "draft"


def test_SYNC_05_a_command_without_a_base_version_conflicts_missing_base_version(world: World) -> None:
    pid = world.draft()
    outcome = only(sync(world, item(world, "c1", edit(world, pid, title="x"))))
    assert (outcome.outcome, outcome.reason) == ("conflict", "missing_base_version")
    assert outcome.server_state is not None and outcome.server_state.version == 1


# --- SYNC-07 -------------------------------------------------------------------------------------------------


def test_SYNC_07_a_guard_failing_at_sync_time_conflicts_and_puts_the_permit_on_the_review_list(
    world: World,
) -> None:
    pid = world.draft()
    outcome = only(sync(world, item(world, "c1", submit(world, pid), base=1)))
    assert (outcome.outcome, outcome.reason, outcome.needs_review) == ("conflict", "guard_failed", True)
    assert [b.code for b in outcome.blockers] == ["verifier_not_nominated"]
    assert "SYNC-07" in outcome.rule_ids
    assert (outcome.permit_id, outcome.server_state and outcome.server_state.number) == (
        pid,
        "NORTH-2026-00001",
    )
    assert version(world, pid) == 1  # not a permit-stream event: the ledger event carries the review flag
    ledger = world.service.store.events.get(ledger_id(world.project_id, DEVICE, "c1"))
    assert next(iter(ledger)).payload.outcome == outcome  # type: ignore[attr-defined]


# --- SYNC-08 -------------------------------------------------------------------------------------------------


def _isolation(world: World) -> tuple[uuid.UUID, ic.IsolatePoint]:
    pid = world.draft()
    world.assign_point(pid)
    isolation_id = world.permit(pid).isolations.assignments[0].isolation_id
    isolate = ic.IsolatePoint(
        actor=world.actor("iso"),
        isolation_id=isolation_id,
        lock_ids=("L-1",),
        tag="DANGER",
        method="locked off",
        achieved_category="I",
        isolated_at=world.clock.now(),
        isolator_worker_id=world.workers["iso"],
    )
    return isolation_id, isolate


def _verify(world: World, isolation_id: uuid.UUID) -> ic.VerifyIsolation:
    return ic.VerifyIsolation(
        actor=world.actor("iso2"),
        isolation_id=isolation_id,
        method="test",
        passed=True,
        verified_at=world.clock.now(),
    )


def test_SYNC_08_a_command_moving_an_isolation_back_conflicts_regression(world: World) -> None:
    isolation_id, isolate = _isolation(world)
    base = world.service.store.repository.get(isolation_id).version  # what the device saw: assigned
    world.run(isolate)
    world.run(_verify(world, isolation_id))
    outcome = only(sync(world, item(world, "c1", isolate, base=base), actor="iso"))
    assert (outcome.outcome, outcome.reason) == ("conflict", "regression")
    assert outcome.server_state is not None and outcome.server_state.status == "verified"
    assert [(f.field, f.device, f.server, f.hint) for f in outcome.fields] == [
        ("status", "isolated", "verified", "forward_only")
    ]


def test_SYNC_08_repeating_a_reached_state_with_the_same_facts_is_applied_no_change(world: World) -> None:
    isolation_id, isolate = _isolation(world)
    base = world.service.store.repository.get(isolation_id).version
    world.run(isolate)
    head = world.service.store.head_position()
    outcome = only(sync(world, item(world, "c1", isolate, base=base), actor="iso"))
    assert (outcome.outcome, outcome.no_change, outcome.events) == ("applied", True, ())
    assert world.service.store.head_position() == head + 1  # the ledger event alone
    other = msgspec_replace(isolate, lock_ids=("L-2",))
    assert only(sync(world, item(world, "c2", other, base=base), actor="iso")).reason == "stale_version"


def test_SYNC_08_a_forward_move_is_applied(world: World) -> None:
    isolation_id, isolate = _isolation(world)
    world.run(isolate)
    base = world.service.store.repository.get(isolation_id).version
    outcome = only(sync(world, item(world, "c1", _verify(world, isolation_id), base=base), actor="iso2"))
    assert (outcome.outcome, outcome.events) == ("applied", ("IsolationVerified",))


def msgspec_replace(command: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(command, **changes)


# --- SYNC-09 -------------------------------------------------------------------------------------------------


def test_SYNC_09_a_foreign_or_unknown_target_is_rejected_not_found_without_server_state(world: World) -> None:
    south = World.create(world.service, world.clock, code="SOUTH")
    foreign = south.draft()
    foreign_isolation, _ = _isolation(south)
    report = sync(
        world,
        item(world, "c1", edit(world, foreign, title="x"), base=1),
        item(world, "c2", edit(world, uuid.uuid4(), title="x"), base=1),
        item(world, "c3", _verify(world, foreign_isolation), base=1),
        actor="iso2",
    )
    for result in report.results:
        outcome = result.outcome
        assert (outcome.outcome, outcome.reason, outcome.server_state, outcome.stream_id) == (
            "rejected",
            "not_found",
            None,
            None,
        )
        assert "SYNC-09" in outcome.rule_ids
    assert south.permit(foreign).version == 1


# --- SYNC-10 -------------------------------------------------------------------------------------------------


def test_SYNC_10_a_create_matching_a_live_work_order_conflicts_until_confirmed(world: World) -> None:
    existing = world.draft(work_order_id="WO-42")
    number = world.permit(existing).number
    twin = item(world, "c1", create(world, work_order_id="WO-42"), target="tmp:a")
    outcome = only(sync(world, twin))
    assert (outcome.outcome, outcome.reason) == ("conflict", "duplicate_suspected")
    assert outcome.server_state is not None
    assert (outcome.server_state.id, outcome.server_state.number) == (existing, number)
    assert str(existing) in outcome.detail and number in outcome.detail
    confirmed = item(
        world, "c2", create(world, work_order_id="WO-42"), target="tmp:a", confirm_not_duplicate=True
    )
    created = only(sync(world, confirmed))
    assert (created.outcome, created.permit_number) == ("applied", "NORTH-2026-00002")


def test_SYNC_10_another_category_or_window_is_no_duplicate(world: World) -> None:
    world.draft(work_order_id="WO-42")
    later = world.clock.now() + timedelta(days=2)
    other_window = create(
        world, work_order_id="WO-42", planned_start=later, planned_end=later + timedelta(hours=4)
    )
    other_category = create(world, "cold-work", work_order_id="WO-42")
    report = sync(world, item(world, "c1", other_window), item(world, "c2", other_category))
    assert [r.outcome.outcome for r in report.results] == ["applied", "applied"]


# --- SYNC-12 -------------------------------------------------------------------------------------------------


def test_SYNC_12_every_outcome_goes_to_the_ledger_with_device_user_command_and_reason(world: World) -> None:
    """The health figures counted from these events: tests/projections/test_sync_ledger.py."""
    pid = world.draft()
    sync(
        world,
        item(world, "c1", edit(world, pid, title="x"), base=1),
        item(world, "c2", edit(world, pid, title="y")),  # missing base: conflict
        item(world, "c3", edit(world, uuid.uuid4(), title="z"), base=1),  # rejected
    )
    ledger = world.service.store.events.get(ledger_id(world.project_id, DEVICE, "c2"))
    entry = next(iter(ledger)).payload  # type: ignore[attr-defined]
    assert (entry.device_id, entry.user, entry.outcome.command, entry.outcome.reason) == (
        DEVICE,
        "req",
        "EditPermit",
        "missing_base_version",
    )


def test_SYNC_11_an_offline_activation_is_judged_on_evidence_at_its_device_time(world: World) -> None:
    """SIG-04 and SIG-12 at the device time: re-authentication and the site scan were fresh when the issuer
    and the acceptor stood at the site, though the batch reaches the server 40 minutes later."""
    pid = world.approved()
    world.prepare_crew(pid)
    at_site = world.clock.now()
    core = world.permit(pid).core_hash
    pin = SignatureInput(core_hash=core, reauthenticated_at=at_site, method="pin")
    activation = c.ActivatePermit(
        actor=world.actor("app"),
        permit_id=pid,
        signature=pin,
        acceptance=c.Acceptance(acceptor=world.people["req"], signature=pin),
        presence=ScanEvidence(code="A1", scanned_by="app", scanned_at=at_site - timedelta(minutes=5)),
    )
    base = version(world, pid)
    world.clock.advance(timedelta(minutes=40))
    judged_now = only(sync(world, item(world, "c0", activation, base=base), actor="app"))
    assert (judged_now.outcome, judged_now.reason) == ("rejected", "reauthentication_required")
    outcome = only(sync(world, item(world, "c1", activation, base=base, at=at_site), actor="app"))
    assert (outcome.outcome, outcome.events) == ("applied", ("PermitActivated",)), outcome.detail
    assert world.permit(pid).status == "active"
