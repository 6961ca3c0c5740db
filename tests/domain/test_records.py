# ruff: noqa: N802
"""Records kept on a permit beside its lifecycle: attachments (§4.1, SEC-11), annotations (AUD-11, AUD-02) and
linked incidents (RPT-04), on every backend."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest

from ptw_domain.errors import Forbidden, InvalidTransition, ValidationFailed
from ptw_domain.permit.evolve import evolve_permit
from ptw_domain.permit.state import PermitState
from ptw_domain.records import commands as rc
from ptw_domain.roles import Actor, ActorKind, Role
from tests.builders import World, cancel, refused, types


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def attach(world: World, pid: uuid.UUID, actor: str = "req", **kw: object) -> rc.AddAttachment:
    values: dict[str, object] = {
        "uri": "https://docs.example/permits/gas-free-certificate.pdf",
        "sha256": digest("gas-free certificate"),
        "media_type": "application/pdf",
        "size": 48_213,
        "title": "Gas-free certificate",
    }
    values.update(kw)
    return rc.AddAttachment(actor=world.actor(actor), permit_id=pid, **values)  # type: ignore[arg-type]


def annotate(world: World, pid: uuid.UUID, text: str, actor: str = "safe") -> rc.AnnotatePermit:
    return rc.AnnotatePermit(actor=world.actor(actor), permit_id=pid, text=text)


def link(world: World, pid: uuid.UUID, actor: str | Actor = "safe", **kw: object) -> rc.LinkIncident:
    values: dict[str, object] = {"incident_ref": "INC-2026-0042", "summary": "Hand burn while grinding"}
    values.update(kw)
    who = actor if isinstance(actor, Actor) else world.actor(actor)
    return rc.LinkIncident(actor=who, permit_id=pid, **values)  # type: ignore[arg-type]


# --- attachments -----------------------------------------------------------------------------------------------


def test_SEC_05_the_requestor_attaches_a_document_pinned_by_its_sha256(world: World) -> None:
    pid = world.draft()
    core_hash = world.permit(pid).core_hash
    assert world.run(attach(world, pid, media_type="Application/PDF")).events == ("AttachmentAdded",)
    [attachment] = world.permit(pid).records.attachments
    assert (attachment.sha256, attachment.media_type, attachment.added_by) == (
        digest("gas-free certificate"),
        "application/pdf",  # RFC 6838: case-insensitive, kept in lower case
        "req",
    )
    assert attachment.added_at == world.clock.now()
    assert world.permit(pid).core_hash == core_hash  # an admin record, not scope (SIG-06)


def test_SEC_04_attachments_come_from_the_parties_and_the_roles_holding_evidence(world: World) -> None:
    """Our rule (SEC-04 has no row): the requestor or PA, an approver, area or isolating authority, gas tester or
    safety officer; a worker is refused 403, an integration principal too (ROLE-07: a safety-fact event)."""
    pid = world.active()
    for n, who in enumerate(("app", "area", "iso", "tester", "safe")):
        world.run(attach(world, pid, actor=who, sha256=digest(f"photo {n}"), uri=f"urn:docs:photo-{n}"))
    assert [a.added_by for a in world.permit(pid).records.attachments] == [
        "app",
        "area",
        "iso",
        "tester",
        "safe",
    ]
    refused(world, pid, attach(world, pid, actor="crew1"), Forbidden)
    world.add_person("erp", Role.INTEGRATION, Role.SAFETY_OFFICER)
    err = refused(world, pid, attach(world, pid, actor="erp"), Forbidden)
    assert err.rule_ids == ("ROLE-07",)


def test_LIFE_05_attachments_are_taken_until_close_then_only_annotations(world: World) -> None:
    """Completed (awaiting close-out) still takes evidence; closed and cancelled take annotations only (AUD-11)."""
    completed = world.completed()
    world.run(attach(world, completed))
    closed = world.closed()
    err = refused(world, closed, attach(world, closed), InvalidTransition)
    assert "LIFE-02" in {b.rule for b in err.blockers}
    assert err.allowed_commands == ("AnnotatePermit", "LinkIncident")
    dropped = world.draft()
    world.run(cancel(world, dropped))
    refused(world, dropped, attach(world, dropped), InvalidTransition)


def test_AUD_02_the_same_document_twice_records_nothing_and_other_details_are_refused(world: World) -> None:
    pid = world.draft()
    world.run(attach(world, pid))
    assert world.run(attach(world, pid)).events == ()  # a retried upload
    err = refused(world, pid, attach(world, pid, uri="https://elsewhere.example/x.pdf"), ValidationFailed)
    assert (err.rule_ids, err.facts["field"]) == (("AUD-02",), "sha256")
    assert len(world.permit(pid).records.attachments) == 1


def test_SEC_11_a_permit_holds_at_most_50_attachments(world: World) -> None:
    pid = world.draft()
    for n in range(rc.MAX_ATTACHMENTS):
        world.run(attach(world, pid, sha256=digest(f"page {n}"), uri=f"urn:docs:page-{n}"))
    err = refused(world, pid, attach(world, pid, sha256=digest("page 50")), ValidationFailed)
    assert err.rule_ids == ("SEC-11",)
    assert world.permit(pid).version > 50
    assert fold_history(world, pid) == world.permit(pid)  # snapshotted at 50: the records survive it


def fold_history(world: World, pid: uuid.UUID) -> PermitState | None:
    state = None
    for recorded in world.service.history(pid):
        state = evolve_permit(state, recorded)
    return state


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sha256", "ABC"),
        ("sha256", "G" * 64),
        ("uri", "ftp://docs.example/a.pdf"),
        ("uri", "file:///etc/passwd"),
        ("uri", "https://"),
        ("media_type", "pdf"),
        ("media_type", "application/pdf; charset=binary"),
        ("size", 0),
        ("size", rc.MAX_ATTACHMENT_BYTES + 1),
    ],
)
def test_SEC_12_a_malformed_attachment_is_refused_naming_its_field(
    world: World, field: str, value: object
) -> None:
    pid = world.draft()
    err = refused(world, pid, attach(world, pid, **{field: value}), ValidationFailed)
    assert err.rule_ids == ("SEC-12",)
    assert f"$.{field}" in err.message


# --- annotations -----------------------------------------------------------------------------------------------


def test_AUD_11_closed_and_cancelled_permits_accept_annotations(world: World) -> None:
    closed = world.closed()
    before = world.permit(closed)
    world.run(annotate(world, closed, "Entrant reported dizziness at 14:10; ventilation was increased"))
    after = world.permit(closed)
    assert (after.status, after.core_hash, after.content) == (before.status, before.core_hash, before.content)
    [note] = after.records.annotations
    assert (note.by, note.status, note.at) == ("safe", "closed", world.clock.now())
    dropped = world.draft()
    world.run(cancel(world, dropped))
    world.run(annotate(world, dropped, "Raised in error", actor="area"))
    assert types(world, dropped)[-1] == "PermitAnnotated"


def test_AUD_02_a_correction_is_a_new_annotation_beside_the_first(world: World) -> None:
    pid = world.closed()
    world.run(annotate(world, pid, "Gas alarm at 10:05"))
    world.run(annotate(world, pid, "Correction: the gas alarm was at 10:50"))
    assert [n.text for n in world.permit(pid).records.annotations] == [
        "Gas alarm at 10:05",
        "Correction: the gas alarm was at 10:50",
    ]


def test_AUD_11_annotations_are_for_area_authorities_and_safety_officers_and_need_text(world: World) -> None:
    pid = world.closed()
    err = refused(world, pid, annotate(world, pid, "mine", actor="req"), Forbidden)
    assert err.rule_ids == ("SEC-04",)
    blank = refused(world, pid, annotate(world, pid, "   "), ValidationFailed)
    assert (blank.rule_ids, blank.facts["field"]) == (("AUD-11",), "text")


def test_SEC_08_an_inactive_project_takes_annotations_and_incident_links_but_no_attachment(
    world: World,
) -> None:
    pid = world.active()
    world.change_settings(active=False)
    world.run(annotate(world, pid, "Site mothballed with the permit live"))
    world.run(link(world, pid))
    err = refused(world, pid, attach(world, pid), InvalidTransition)
    assert "SEC-08" in err.rule_ids


# --- incidents -------------------------------------------------------------------------------------------------


def test_RPT_04_a_safety_officer_links_an_incident_to_a_closed_permit(world: World) -> None:
    pid = world.closed()
    occurred = world.clock.now() - timedelta(hours=2)
    world.clock.advance(timedelta(days=3))
    assert world.run(link(world, pid, occurred_at=occurred)).events == ("IncidentLinked",)
    [incident] = world.permit(pid).records.incidents
    assert (incident.incident_ref, incident.occurred_at, incident.linked_by, incident.linked_at) == (
        "INC-2026-0042",
        occurred,
        "safe",
        world.clock.now(),
    )
    assert world.permit(pid).status == "closed"


def test_RPT_04_an_integration_principal_links_incidents_others_are_refused(world: World) -> None:
    pid = world.active()
    world.add_person("ims", Role.INTEGRATION)
    world.run(link(world, pid, actor="ims", incident_ref="INC-1"))
    service = Actor(member=world.people["req"], auth_time=world.clock.now(), kind=ActorKind.SERVICE)
    world.run(link(world, pid, actor=service, incident_ref="INC-2"))  # SEC-02: a client-credential principal
    assert [i.linked_by for i in world.permit(pid).records.incidents] == ["ims", "req"]
    for who in ("req", "app", "area"):
        err = refused(world, pid, link(world, pid, actor=who, incident_ref="INC-3"), Forbidden)
        assert "RPT-04" in err.rule_ids


def test_RPT_04_the_same_incident_twice_records_nothing_other_details_are_refused(world: World) -> None:
    pid = world.active()
    world.run(link(world, pid))
    assert world.run(link(world, pid, incident_ref=" INC-2026-0042 ")).events == ()  # redelivered
    err = refused(world, pid, link(world, pid, summary="Something else"), ValidationFailed)
    assert (err.rule_ids, err.facts["field"]) == (("AUD-02",), "incident_ref")
    assert len(world.permit(pid).records.incidents) == 1


def test_TIME_02_an_incident_cannot_have_occurred_in_the_future(world: World) -> None:
    pid = world.active()
    late = world.clock.now() + timedelta(minutes=6)
    err = refused(world, pid, link(world, pid, occurred_at=late), ValidationFailed)
    assert (err.rule_ids, err.facts["field"]) == (("TIME-02",), "occurred_at")
    blank = refused(world, pid, link(world, pid, incident_ref="  "), ValidationFailed)
    assert (blank.rule_ids, blank.facts["field"]) == (("RPT-04",), "incident_ref")


def test_records_leave_readiness_and_signatures_alone(world: World) -> None:
    """None of the three signs or changes core: an approved permit's signatures stay valid (SIG-08)."""
    pid = world.approved()
    signed = world.permit(pid).valid_signatures()
    world.run(attach(world, pid, actor="app"))
    world.run(annotate(world, pid, "Scaffold tag checked"))
    world.run(link(world, pid))
    state = world.permit(pid)
    assert state.valid_signatures() == signed and state.status == "approved"
