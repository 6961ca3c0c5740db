# ruff: noqa: N802
"""SIG-11: a signature reads as valid, invalidated (by which event) or broken; SIG-13: shown to the second in
project time with its offset."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import msgspec

from ptw_domain import commands as c
from ptw_domain.canonical import canonical_json
from ptw_domain.clock import ManualClock
from ptw_domain.permit.signature_status import SignatureStatus, display_instant
from ptw_domain.service import PermitService
from tests.builders import START, World, amend


def test_SIG_11_signatures_of_an_approved_permit_are_valid(world: World) -> None:
    pid = world.approved()
    views = world.service.signatures(pid)
    assert [v.signature.point for v in views] == ["requestor", "verifier", "approver"]
    assert {v.status for v in views} == {SignatureStatus.VALID}


def test_SIG_11_an_amendment_invalidates_and_names_the_event(world: World) -> None:
    pid = world.approved()
    world.run(amend(world, pid, area="B2"))
    invalidated_at = next(e.version for e in world.service.history(pid) if e.type == "SignaturesInvalidated")
    views = world.service.signatures(pid)
    assert {v.status for v in views} == {SignatureStatus.INVALIDATED}
    assert {(v.invalidated_by_version, v.invalidation_reason) for v in views} == {
        (invalidated_at, "core_change")
    }


def test_SIG_11_signatures_as_of_a_past_version(world: World) -> None:
    pid = world.approved()
    world.run(amend(world, pid, area="B2"))
    approved_at = next(e.version for e in world.service.history(pid) if e.type == "PermitApproved")
    assert {v.status for v in world.service.signatures(pid, version=approved_at)} == {SignatureStatus.VALID}


def _rechain(db: Path, stream_id: uuid.UUID, edit: dict[str, str]) -> None:
    """What a capable attacker does: change a stored event and recompute every hash after it, so that the
    chain verifies again."""
    con = sqlite3.connect(db)
    for action in ("update", "delete"):
        con.execute(f"DROP TRIGGER stored_events_no_{action}")
    rows = con.execute(
        "SELECT originator_version, state FROM stored_events WHERE originator_id = ? ORDER BY originator_version",
        (stream_id.hex,),
    ).fetchall()
    assert rows, "the SQLite recorder keys streams by the UUID's hex"
    prev = "0" * 64
    for version, state in rows:
        body = msgspec.json.decode(state)
        if version == 1:
            body["payload"]["content"].update(edit)
        body["prev_hash"] = prev
        body.pop("hash")
        body["hash"] = prev = hashlib.sha256(canonical_json(body)).hexdigest()
        con.execute(
            "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
            (canonical_json(body), stream_id.hex, version),
        )
    con.execute("DELETE FROM stored_snapshots")  # snapshots are a cache, not evidence
    con.commit()
    con.close()


def test_SIG_11_a_consistently_rechained_edit_still_shows_the_signatures_broken(tmp_path: Path) -> None:
    db = tmp_path / "ptw.db"
    clock = ManualClock(START)
    service = PermitService(f"sqlite:///{db}", clock=clock)
    world = World.create(service, clock)
    pid = world.approved()
    service.close()

    _rechain(db, pid, {"description": "a smaller job than the one signed for"})

    reopened = PermitService(f"sqlite:///{db}", clock=clock)
    try:
        assert all(v.ok for v in reopened.verify_chain([pid]))  # the chain alone no longer shows it
        assert {v.status for v in reopened.signatures(pid)} == {SignatureStatus.BROKEN}
    finally:
        reopened.close()


def test_SIG_13_signed_at_is_to_the_second_and_shown_in_project_time(
    service: PermitService, clock: ManualClock
) -> None:
    world = World.create(service, clock)
    berlin = uuid.uuid4()
    service.execute(
        c.OpenProject(
            actor=world.actor("admin", org_admin=True),
            project_id=berlin,
            organisation_id=world.organisation_id,
            code="BER",
            title="Berlin",
            time_zone="Europe/Berlin",
        )
    )
    world.project_id = berlin
    clock.advance(timedelta(microseconds=123_456))
    pid = world.submitted()
    view = service.signatures(pid)[0]
    assert view.signature.signed_at.microsecond == 0
    assert view.signed_at_local == display_instant(view.signature.signed_at, "Europe/Berlin")
    assert view.signed_at_local.endswith("+01:00")
    assert view.signed_at_local == "2026-11-25 09:00:00+01:00"
