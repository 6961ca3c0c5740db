"""Deciding the worker registry (WRK-01) and competency records (COMP-01)."""

from __future__ import annotations

from msgspec import UnsetType

from ptw_domain.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from ptw_domain.events import people as ev
from ptw_domain.events.people import WorkerMemberLinked, WorkerMemberUnlinked
from ptw_domain.organisation import OrganisationState
from ptw_domain.people import commands as pc
from ptw_domain.people.workers import WorkerState
from ptw_domain.roles import Actor, Role

_KEEPERS = frozenset({Role.PROJECT_ADMIN, Role.SAFETY_OFFICER})


def _require_keeper(actor: Actor, command: str) -> None:
    """SEC-04 "competencies": a safety officer or project admin (or an organisation admin)."""
    if not actor.org_admin and not _KEEPERS & actor.member.roles:
        raise Forbidden(
            f"{command} needs a safety officer, project admin or organisation admin", rule_ids=("SEC-04",)
        )


def _existing(state: WorkerState | None) -> WorkerState:
    if state is None:
        raise NotFound("no such worker", facts={"field": "worker_id"})
    return state


def register(cmd: pc.RegisterWorker, existing: WorkerState | None) -> list[ev.WorkerEvent]:
    _require_keeper(cmd.actor, cmd.name)
    if existing is not None:
        raise InvalidTransition("the worker is already registered", rule_ids=("WRK-01",))
    return [
        ev.WorkerRegistered(
            worker_id=cmd.worker_id,
            organisation_id=cmd.organisation_id,
            name=cmd.full_name,
            company=cmd.company,
            person_id=cmd.person_id,
        )
    ]


def update(cmd: pc.UpdateWorker, existing: WorkerState | None) -> list[ev.WorkerEvent]:
    """WRK-01: name, company, the linked member identity and the active flag; only given fields change."""
    _require_keeper(cmd.actor, cmd.name)
    state = _existing(existing)
    name = state.name if isinstance(cmd.full_name, UnsetType) else cmd.full_name
    company = state.company if isinstance(cmd.company, UnsetType) else cmd.company
    person_id = state.person_id if isinstance(cmd.person_id, UnsetType) else cmd.person_id
    active = state.active if isinstance(cmd.active, UnsetType) else cmd.active
    before = (state.name, state.company, state.person_id, state.active)
    changed = tuple(
        field
        for field, old, new in zip(
            ("name", "company", "person_id", "active"),
            before,
            (name, company, person_id, active),
            strict=True,
        )
        if old != new
    )
    if not changed:
        return []
    return [ev.WorkerUpdated(name=name, company=company, person_id=person_id, active=active, changed=changed)]


def link_member(
    organisation: OrganisationState | None, worker: WorkerState, before: str | None
) -> list[WorkerMemberLinked | WorkerMemberUnlinked]:
    """WRK-01: the organisation's index of member links follows the worker's changed `person_id`; a member logs in
    as one worker, so linking a member already linked to another worker is refused."""
    links = organisation.member_workers if organisation else {}
    after = worker.person_id
    if after is not None and links.get(after, worker.worker_id) != worker.worker_id:
        raise ValidationFailed(
            "the member is linked to another worker", rule_ids=("WRK-01",), facts={"field": "person_id"}
        )
    ids = {"organisation_id": worker.organisation_id, "worker_id": worker.worker_id}
    out: list[WorkerMemberLinked | WorkerMemberUnlinked] = []
    if before is not None:
        out.append(WorkerMemberUnlinked(person_id=before, **ids))
    if after is not None:
        out.append(WorkerMemberLinked(person_id=after, **ids))
    return out


def record_competency(cmd: pc.RecordCompetency, existing: WorkerState | None) -> list[ev.WorkerEvent]:
    """COMP-01: a record with a non-empty validity, issuer and evidence."""
    _require_keeper(cmd.actor, cmd.name)
    state = _existing(existing)
    if cmd.valid_until <= cmd.valid_from:
        raise ValidationFailed(
            "a competency needs valid_until after valid_from",
            rule_ids=("COMP-01",),
            facts={"field": "valid_until"},
        )
    if any(c.competency_id == cmd.competency_id for c in state.competencies):
        raise ValidationFailed(
            "a competency with this id exists", rule_ids=("COMP-01",), facts={"field": "competency_id"}
        )
    return [
        ev.CompetencyRecorded(
            competency_id=cmd.competency_id,
            code=cmd.code,
            valid_from=cmd.valid_from,
            valid_until=cmd.valid_until,
            issuer=cmd.issuer,
            evidence_uri=cmd.evidence_uri,
            evidence_sha256=cmd.evidence_sha256,
            recorded_by=cmd.actor.person_id,
        )
    ]


def revoke_competency(cmd: pc.RevokeCompetency, existing: WorkerState | None) -> list[ev.WorkerEvent]:
    """COMP-01/02: revocation takes effect at its time; acts before it stay valid."""
    _require_keeper(cmd.actor, cmd.name)
    state = _existing(existing)
    record = next((c for c in state.competencies if c.competency_id == cmd.competency_id), None)
    if record is None:
        raise NotFound("no such competency", facts={"field": "competency_id"})
    if record.revoked_at is not None:
        return []
    assert cmd.at is not None
    return [
        ev.CompetencyRevoked(
            competency_id=cmd.competency_id,
            revoked_at=cmd.at,
            reason=cmd.reason,
            revoked_by=cmd.actor.person_id,
        )
    ]
