# ruff: noqa: N802
"""SIG-12: site-presence evidence at activation and resume — a scan of the permit's area or equipment by the issuer
or acceptor within 15 minutes, or a co-presence attestation of both; a required input (RDY-06), recorded on the
event."""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec
import pytest

from ptw_domain import commands as c
from ptw_domain.errors import ValidationFailed
from ptw_domain.presence import CoPresenceAttestation, ScanEvidence
from tests.builders import World, activate, refused, resume, scan


@pytest.fixture
def ready(world: World) -> tuple[World, uuid.UUID]:
    """An approved hot-work permit (area A1, equipment P-101), crew prepared, inside its activation window."""
    pid = world.approved()
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    return world, pid


def field_of(world: World, pid: uuid.UUID, command: c.Command) -> str:
    """Run a command that must be refused for its presence evidence; the field it names."""
    error = refused(world, pid, command, ValidationFailed)
    assert "SIG-12" in error.rule_ids
    return str(error.facts["field"])


def test_SIG_12_activation_needs_fitting_recent_presence_evidence(ready: tuple[World, uuid.UUID]) -> None:
    world, pid = ready
    now = world.clock.now()
    without = msgspec.structs.replace(activate(world, pid), presence=None)
    assert field_of(world, pid, without) == "presence"
    elsewhere = activate(world, pid, presence=scan(world, pid, code="B7"))
    assert field_of(world, pid, elsewhere) == "presence.code"
    by_other = activate(world, pid, presence=scan(world, pid, by="crew1"))
    assert field_of(world, pid, by_other) == "presence.scanned_by"
    stale = ScanEvidence(code="A1", scanned_by="app", scanned_at=now - timedelta(minutes=16))
    assert field_of(world, pid, activate(world, pid, presence=stale)) == "presence.scanned_at"
    future = ScanEvidence(code="A1", scanned_by="app", scanned_at=now + timedelta(minutes=10))
    error = refused(world, pid, activate(world, pid, presence=future), ValidationFailed)
    assert error.rule_ids == ("SIG-12", "TIME-02")
    # an equipment tag, case-insensitively, scanned by the acceptor 15 minutes before: accepted and recorded
    tag = ScanEvidence(code="p-101", scanned_by="req", scanned_at=now - timedelta(minutes=15))
    world.run(activate(world, pid, presence=tag))
    activated = world.service.history(pid)[-1].payload
    assert activated.presence == tag


def test_SIG_12_a_co_presence_attestation_names_both_parties(ready: tuple[World, uuid.UUID]) -> None:
    world, pid = ready
    now = world.clock.now()
    wrong = CoPresenceAttestation(issuer="app", acceptor="crew1", attested_at=now)
    assert field_of(world, pid, activate(world, pid, presence=wrong)) == "presence.acceptor"
    not_issuer = CoPresenceAttestation(issuer="app2", acceptor="req", attested_at=now)
    assert field_of(world, pid, activate(world, pid, presence=not_issuer)) == "presence.issuer"
    both = CoPresenceAttestation(issuer="app", acceptor="req", attested_at=now - timedelta(minutes=2))
    world.run(activate(world, pid, presence=both))
    assert world.service.history(pid)[-1].payload.presence == both


def test_SIG_12_resume_needs_presence_evidence_too(world: World) -> None:
    pid = world.active()
    world.run(c.SuspendPermit(actor=world.actor("safe"), permit_id=pid, reason_code="manual", text="Alarm"))
    world.clock.advance(timedelta(minutes=5))
    world.brief(pid)
    world.gas_test(pid)
    without = msgspec.structs.replace(resume(world, pid), presence=None)
    assert field_of(world, pid, without) == "presence"
    world.run(resume(world, pid))
    assert world.service.history(pid)[-1].payload.presence.code == "A1"


def test_SIG_12_is_a_required_input_not_a_blocker_and_a_template_may_not_require_it(world: World) -> None:
    readiness = world.service.readiness(world.approved())
    assert "presence" in readiness.actions["activate"].required_inputs
    assert "presence" in readiness.actions["resume"].required_inputs
    world.publish_template({"key": "remote", "category": "cold_work", "requires_presence_evidence": False})
    pid = world.approved(template="remote")
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    assert "SIG-12" not in {b.rule for b in world.service.readiness(pid).actions["activate"].blockers}
    world.run(msgspec.structs.replace(activate(world, pid), presence=None))
    assert world.permit(pid).status == "active"
