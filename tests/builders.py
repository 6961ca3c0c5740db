"""Test builders: a project with templates and people, and helpers that take a permit through its lifecycle.

They call only the public facade, so each test reads as Given (builder) / When (command) / Then (assertions).
World methods run commands; the module functions below it build one command without running it (signed
against the permit's current core hash, by a person who authenticated just now), or check a refusal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.errors import DomainError
from ptw_domain.events import isolation as iso_events
from ptw_domain.events.project import ProjectSettings
from ptw_domain.gas import commands as gc
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation import handling as isolation_handling
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.content import Origin, PermitContent
from ptw_domain.permit.readiness import Action
from ptw_domain.permit.state import PermitState
from ptw_domain.presence import PresenceEvidence, ScanEvidence
from ptw_domain.roles import Actor, CompanyKind, Member, Role
from ptw_domain.service import CommandResult, PermitService
from ptw_domain.signatures import SignatureInput

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

HOT_WORK = {
    "key": "hot-work",
    "category": "hot_work",
    "name": "Hot work",
    "mandatory_ppe": ["Welding gloves"],
    "safety_checklist": ["Combustibles removed", {"key": "extinguisher", "label": "Extinguisher at hand"}],
}
COLD_WORK = {"key": "cold-work", "category": "cold_work", "name": "Cold work"}

_Issue = TypeVar("_Issue", c.ActivatePermit, c.ResumePermit)


def member(person_id: str, *roles: Role, level: int = 3, kind: CompanyKind = CompanyKind.OWNER) -> Member:
    return Member(
        person_id=person_id,
        name=person_id.title(),
        roles=frozenset(roles),
        authority_level=level,
        company_kind=kind,
    )


@dataclass
class World:
    """One organisation, one project, the two templates above and a cast of people."""

    service: PermitService
    clock: ManualClock
    organisation_id: uuid.UUID
    project_id: uuid.UUID
    people: dict[str, Member] = field(default_factory=dict)
    workers: dict[str, uuid.UUID] = field(default_factory=dict)

    def sibling(self, code: str) -> World:
        """Another project of this organisation, with the same people: its templates and worker registry are
        shared (TEN-01)."""
        sibling = World(
            service=self.service,
            clock=self.clock,
            organisation_id=self.organisation_id,
            project_id=uuid.uuid4(),
            people=dict(self.people),
            workers=dict(self.workers),
        )
        sibling.run(
            c.OpenProject(
                actor=sibling.actor("admin", org_admin=True),
                project_id=sibling.project_id,
                organisation_id=self.organisation_id,
                code=code,
                title=f"{code} site",
            )
        )
        return sibling

    @classmethod
    def create(cls, service: PermitService, clock: ManualClock, code: str = "NORTH") -> World:
        world = cls(service=service, clock=clock, organisation_id=uuid.uuid4(), project_id=uuid.uuid4())
        world.people = {
            "admin": member("admin", Role.PROJECT_ADMIN),
            "req": member("req", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR),
            "ver": member("ver", Role.VERIFIER, level=2),
            "app": member("app", Role.APPROVER, level=3),
            "app2": member("app2", Role.APPROVER, level=3),
            "area": member("area", Role.AREA_AUTHORITY, level=3),
            "safe": member("safe", Role.SAFETY_OFFICER, level=2),
        }
        service.execute(
            c.OpenProject(
                actor=world.actor("admin", org_admin=True),
                project_id=world.project_id,
                organisation_id=world.organisation_id,
                code=code,
                title="North site",
            )
        )
        for definition in (HOT_WORK, COLD_WORK):
            world.publish_template(definition)
        world.register_worker(
            "crew1", "hot_work", "confined_space_entry", "electrical_authorised", role=Role.WORKER
        )
        world.register_worker("watch", "fire_watch", role=Role.FIRE_WATCH)
        world.register_worker("tester", "gas_testing", role=Role.GAS_TESTER)
        world.register_worker("iso", "isolation", role=Role.ISOLATING_AUTHORITY)
        world.add_person("iso2", Role.ISOLATING_AUTHORITY, level=2)
        return world

    def register_worker(
        self,
        person_id: str,
        *codes: str,
        role: Role = Role.WORKER,
        valid_for: timedelta = timedelta(days=365),
    ) -> uuid.UUID:
        """A worker of the organisation, linked to a member `person_id`, holding competencies `codes`."""
        self.add_person(person_id, role, level=1, kind=CompanyKind.CONTRACTOR)
        worker_id = uuid.uuid4()
        keeper = self.actor("admin", org_admin=True)
        self.run(
            pc.RegisterWorker(
                actor=keeper,
                worker_id=worker_id,
                organisation_id=self.organisation_id,
                full_name=person_id.title(),
                company="Acme Contracting",
                person_id=person_id,
            )
        )
        for code in codes:
            self.run(
                pc.RecordCompetency(
                    actor=keeper,
                    worker_id=worker_id,
                    competency_id=uuid.uuid4(),
                    code=code,
                    valid_from=START - timedelta(days=30),
                    valid_until=self.clock.now() + valid_for,
                    issuer="Training Ltd",
                    evidence_uri=f"https://records.example/{person_id}/{code}",
                    evidence_sha256="0" * 64,
                )
            )
        self.workers[person_id] = worker_id
        return worker_id

    def actor(self, person: str, *, org_admin: bool = False) -> Actor:
        """The person as an actor who authenticated just now (fresh SIG-04 evidence)."""
        return Actor(member=self.people[person], auth_time=self.clock.now(), org_admin=org_admin)

    def add_person(
        self, person_id: str, *roles: Role, level: int = 3, kind: CompanyKind = CompanyKind.OWNER
    ) -> Member:
        """Add (or replace) a cast member holding these roles; see `member` for the defaults."""
        self.people[person_id] = member(person_id, *roles, level=level, kind=kind)
        return self.people[person_id]

    def content(self, **overrides: Any) -> PermitContent:
        start = self.clock.now() + timedelta(hours=1)
        values: dict[str, Any] = dict(  # noqa: C408 - reads as keyword arguments
            description="Weld a bracket on pipe rack 3",
            area="A1",
            location="Pipe rack 3",
            equipment_tags=("P-101",),
            planned_start=start,
            planned_end=start + timedelta(hours=8),
            probability=2,
            severity=3,
            hazards=("fire",),
            controls=("extinguisher",),
            ppe=("welding gloves",),
            checklist_answers={"combustibles_removed": True, "extinguisher": True},
        )
        values.update(overrides)
        return PermitContent(**values)

    def run(self, command: c.Command) -> CommandResult:
        return self.service.execute(command)

    def permit(self, permit_id: uuid.UUID) -> PermitState:
        return self.service.permit(permit_id)

    def signature(self, permit_id: uuid.UUID, **kw: Any) -> SignatureInput:
        return SignatureInput(core_hash=self.permit(permit_id).core_hash, **kw)

    def acceptance(self, pid: uuid.UUID, acceptor: str = "req") -> c.Acceptance:
        """The acceptor's (performing authority's) acceptance, signed with a fresh re-authentication."""
        return c.Acceptance(
            acceptor=self.people[acceptor], signature=self.signature(pid, reauthenticated_at=self.clock.now())
        )

    # --- the organisation and the project ----------------------------------------------------------------

    def publish_template(self, definition: dict[str, Any]) -> CommandResult:
        """Publish a (new version of a) template as the organisation admin."""
        return self.run(
            c.PublishTemplateVersion(
                actor=self.actor("admin", org_admin=True),
                organisation_id=self.organisation_id,
                definition=definition,
            )
        )

    def change_settings(self, **settings: Any) -> CommandResult:
        """Replace the project settings (unnamed ones at their defaults) as the project admin."""
        return self.run(
            c.ChangeProjectSettings(
                actor=self.actor("admin"), project_id=self.project_id, settings=ProjectSettings(**settings)
            )
        )

    # --- taking a permit along its path ------------------------------------------------------------------

    def draft(self, template: str = "hot-work", actor: str | Actor = "req", **content: Any) -> uuid.UUID:
        """A new draft; `content` as for `create`."""
        command = create(self, template, actor, **content)
        self.run(command)
        return command.permit_id

    def nominate_and_submit(self, pid: uuid.UUID, actor: str | Actor = "req") -> None:
        """Nominate the verifier `ver` for a draft, then submit it, both as `actor`."""
        self.run(nominate(self, pid, actor=actor))
        self.run(submit(self, pid, actor=actor))

    def submitted(self, **content: Any) -> uuid.UUID:
        pid = self.draft(**content)
        self.nominate_and_submit(pid)
        return pid

    def under_review(self, **content: Any) -> uuid.UUID:
        pid = self.submitted(**content)
        self.run(verify(self, pid, approvers=(self.people["app"], self.people["app2"])))
        return pid

    def approved(self, **content: Any) -> uuid.UUID:
        pid = self.under_review(**content)
        if "ISO-09" in [b.rule for b in self.service.readiness(pid).actions[Action.APPROVE].blockers]:
            self.assign_point(pid)  # structured isolation: a required point, assigned before approval
        self.run(approve(self, pid))
        return pid

    def register_point(self, code: str, category: str = "I", **spec: Any) -> uuid.UUID:
        """An isolation point of the project library (ISO-01), registered by the isolating authority `iso`."""
        values: dict[str, Any] = {
            "point_code": code,
            "point_type": "valve",
            "energy_type": "process_fluid",
            "area": "A1",
            "verification_method": "bleed_and_vent",
            "achievable_category": category,
            **spec,
        }
        result = self.run(
            ic.RegisterIsolationPoint(
                actor=self.actor("iso"), project_id=self.project_id, spec=iso_events.PointSpec(**values)
            )
        )
        assert result.stream_id is not None
        return result.stream_id

    def assign_point(self, pid: uuid.UUID, code: str | None = None, required: bool = True) -> uuid.UUID:
        """Assign a point to the permit as the isolating authority, registering it first unless `code` names a
        registered one."""
        if code is None:
            code = f"V-{uuid.uuid4().hex[:6].upper()}"
            self.register_point(code)
        point_id = isolation_handling.point_id_for(self.project_id, code)
        self.run(
            ic.AssignIsolationPoint(
                actor=self.actor("iso"), permit_id=pid, point_id=point_id, required=required
            )
        )
        return point_id

    def isolate_and_verify(self, pid: uuid.UUID, category: str | None = None) -> None:
        """ISO-06/07: `iso` isolates every required point of the permit, `iso2` verifies it (SOD-03)."""
        for assignment in self.permit(pid).isolations.assignments:
            isolation_id = assignment.isolation_id
            self.run(
                ic.IsolatePoint(
                    actor=self.actor("iso"),
                    isolation_id=isolation_id,
                    lock_ids=(f"L-{uuid.uuid4().hex[:6]}",),
                    tag="DANGER DO NOT OPERATE",
                    method="closed, locked, tagged",
                    achieved_category=category or "I",
                    isolated_at=self.clock.now(),
                    isolator_worker_id=self.workers["iso"],
                )
            )
            self.run(
                ic.VerifyIsolation(
                    actor=self.actor("iso2"),
                    isolation_id=isolation_id,
                    method="bleed_and_vent",
                    passed=True,
                    verified_at=self.clock.now(),
                )
            )

    def prepare_crew(self, pid: uuid.UUID, crew: str = "crew1") -> None:
        """What a site does before issue: assign the crew (and for hot work a fire watch), brief them, and have
        each attend (TBT-03, WRK-04, COMP-04, CLO-02)."""
        self.run(
            pc.AssignWorker(
                actor=self.actor("app"),
                permit_id=pid,
                worker_id=self.workers[crew],
                permit_roles=(PermitRole.CREW,),
            )
        )
        if self.permit(pid).category == "hot_work":
            self.run(
                pc.AssignFireWatch(actor=self.actor("app"), permit_id=pid, worker_id=self.workers["watch"])
            )
        watch = ("watch",) if self.permit(pid).people.fire_watch else ()
        self.brief(pid, crew, *watch)  # TBT-03: the crew and the fire watch attend
        activate_blockers = self.service.readiness(pid).actions[Action.ACTIVATE].blockers
        if any(b.rule == "ISO-10" for b in activate_blockers):  # required isolations in place and proved
            self.isolate_and_verify(pid)
        if any(
            b.rule in ("GAS-08", "GAS-09") for b in activate_blockers
        ):  # the template requires gas testing
            self.gas_test(pid)

    def gas_test(self, pid: uuid.UUID, **values: float) -> uuid.UUID:
        """A complete session by the gas tester `tester` (O2, LEL, H2S, CO; passing unless `values` say
        otherwise), tested now with a calibrated instrument (GAS-01..06)."""
        session_id = uuid.uuid4()
        readings = {"O2": 20.9, "LEL": 0.0, "H2S": 0.0, "CO": 0.0, **values}
        units = {"O2": "%vol", "LEL": "%LEL"}
        for gas, value in readings.items():
            self.run(
                gc.RecordGasReading(
                    actor=self.actor("tester"),
                    permit_id=pid,
                    reading_id=uuid.uuid4(),
                    session_id=session_id,
                    gas=gas,
                    value=value,
                    unit=units.get(gas, "ppm"),
                    tested_at=self.clock.now(),
                    instrument="MX4-0042",
                    calibration_due=self.clock.now() + timedelta(days=30),
                    tester_worker_id=self.workers["tester"],
                )
            )
            if self.permit(pid).gas.session(session_id).complete:
                break
        return session_id

    def brief(self, pid: uuid.UUID, *attendees: str) -> uuid.UUID:
        """A new briefing held now by `safe`, attended by each of `attendees` (by default every assigned worker),
        e.g. the rebriefing a resume needs after a suspension (TBT-05); returns its id."""
        tbt_id = uuid.uuid4()
        self.run(
            pc.HoldToolboxTalk(
                actor=self.actor("safe"),
                permit_id=pid,
                tbt_id=tbt_id,
                held_at=self.clock.now(),
                topics=("hazards", "controls", "emergency"),
            )
        )
        assigned = {a.worker_id for a in self.permit(pid).people.assignments}
        everyone = tuple(person for person, worker_id in self.workers.items() if worker_id in assigned)
        for person in attendees or everyone:
            self.run(
                pc.AttendToolboxTalk(
                    actor=self.actor(person), permit_id=pid, tbt_id=tbt_id, worker_id=self.workers[person]
                )
            )
        return tbt_id

    def active(self, **content: Any) -> uuid.UUID:
        """Approved, crew prepared, then activated 30 min later by `app`; the performing authority (`req` unless
        the content names another) accepts."""
        pid = self.approved(**content)
        self.prepare_crew(pid)
        self.clock.advance(timedelta(minutes=30))
        self.run(activate(self, pid, acceptor=content.get("performing_authority") or "req"))
        return pid

    def completed(self, **content: Any) -> uuid.UUID:
        pid = self.active(**content)
        self.clock.advance(timedelta(hours=1))
        self.run(complete(self, pid))
        return pid

    def complete_fire_watch(self, pid: uuid.UUID) -> None:
        """CLO-03: the fire watch, once the watch has run its minutes, completes it."""
        self.run(pc.CompleteFireWatch(actor=self.actor("watch"), permit_id=pid))

    def closed(self, **content: Any) -> uuid.UUID:
        pid = self.completed(**content)
        self.clock.advance(timedelta(minutes=45))
        if self.permit(pid).fire_watch_started_at is not None:
            self.complete_fire_watch(pid)
        self.run(close(self, pid))
        return pid


# --- checking outcomes ---------------------------------------------------------------------------------------


def refused(world: World, pid: uuid.UUID, command: c.Command, error: type[DomainError]) -> DomainError:
    """Run a command that must be refused with `error` and check it appended nothing to the permit stream."""
    before_version = world.permit(pid).version
    before_events = len(world.service.history(pid))
    with pytest.raises(error) as info:
        world.run(command)
    assert world.permit(pid).version == before_version
    assert len(world.service.history(pid)) == before_events
    return info.value


def types(world: World, pid: uuid.UUID) -> list[str]:
    """The type names of the permit's recorded events, oldest first."""
    return [e.type for e in world.service.history(pid)]


def codes(err: DomainError) -> set[str]:
    """The blocker codes of a refusal."""
    return {b.code for b in err.blockers}


# --- command makers: build one command, do not run it ------------------------------------------------------
# An actor (or issuer) is a person id of the world, who authenticated just now, or an Actor built by the test.


def _actor(world: World, who: str | Actor) -> Actor:
    return who if isinstance(who, Actor) else world.actor(who)


def create(
    world: World,
    template: str = "hot-work",
    actor: str | Actor = "req",
    *,
    origin: Origin | None = None,
    client_ref: str | None = None,
    context: c.CommandContext | None = None,
    **content: Any,
) -> c.CreatePermit:
    """CreatePermit for a new permit id, with the default content plus `content`; `origin`, `client_ref` and
    `context` are set on the command when given."""
    given: dict[str, Any] = {"origin": origin, "client_ref": client_ref, "context": context}
    return c.CreatePermit(
        actor=_actor(world, actor),
        permit_id=uuid.uuid4(),
        project_id=world.project_id,
        template_key=template,
        content=world.content(**content),
        **{name: value for name, value in given.items() if value is not None},
    )


def absence_facts(world: World) -> dict[str, Any]:
    """LOCK-02: the three facts of a lock removal by exception (the applier verified absent, contact tried, they
    will be told before resuming), as of now."""
    now = world.clock.now()
    return {
        "verified_absent_by": "gatehouse",
        "verified_absent_at": now,
        "contact_attempts": "phone x3",
        "contacted_at": now,
        "will_inform_before_resuming": True,
    }


def lock_exception(
    world: World, pid: uuid.UUID, lock_id: str = "P-1", actor: str | Actor = "iso", **overrides: Any
) -> ic.RecordLockRemovalException:
    """RecordLockRemovalException with the three facts (`overrides` replaces some)."""
    facts = {**absence_facts(world), **overrides}
    return ic.RecordLockRemovalException(actor=_actor(world, actor), permit_id=pid, lock_id=lock_id, **facts)


def edit(world: World, pid: uuid.UUID, actor: str | Actor = "req", **changes: Any) -> c.EditPermit:
    """EditPermit with `changes` as the PermitChanges fields."""
    return c.EditPermit(actor=_actor(world, actor), permit_id=pid, changes=c.PermitChanges(**changes))


def amend(
    world: World, pid: uuid.UUID, actor: str | Actor = "req", reason: str = "", **changes: Any
) -> c.AmendPermit:
    """AmendPermit with `changes` as the PermitChanges fields."""
    return c.AmendPermit(
        actor=_actor(world, actor), permit_id=pid, changes=c.PermitChanges(**changes), reason=reason
    )


def nominate(
    world: World, pid: uuid.UUID, verifier: Member | None = None, actor: str | Actor = "req"
) -> c.NominateVerifier:
    """NominateVerifier, by default of `ver`."""
    return c.NominateVerifier(
        actor=_actor(world, actor),
        permit_id=pid,
        verifier=world.people["ver"] if verifier is None else verifier,
    )


def submit(world: World, pid: uuid.UUID, actor: str | Actor = "req") -> c.SubmitPermit:
    """SubmitPermit, signed by the requestor."""
    return c.SubmitPermit(actor=_actor(world, actor), permit_id=pid, signature=world.signature(pid))


def verify(
    world: World,
    pid: uuid.UUID,
    approvers: tuple[Member, ...] | None = None,
    actor: str | Actor = "ver",
    **kw: Any,
) -> c.VerifyPermit:
    """VerifyPermit nominating `approvers` (by default `app` alone); `kw` e.g. delegation_id."""
    return c.VerifyPermit(
        actor=_actor(world, actor),
        permit_id=pid,
        approvers=(world.people["app"],) if approvers is None else approvers,
        signature=world.signature(pid),
        **kw,
    )


def approve(world: World, pid: uuid.UUID, actor: str | Actor = "app", **kw: Any) -> c.ApprovePermit:
    """ApprovePermit; `kw` e.g. expected_version, delegation_id, context, or a signature of its own."""
    if "signature" not in kw:
        kw["signature"] = world.signature(pid)
    return c.ApprovePermit(actor=_actor(world, actor), permit_id=pid, **kw)


def cancel(world: World, pid: uuid.UUID, actor: str | Actor = "req", reason: str = "") -> c.CancelPermit:
    """CancelPermit, by default by the requestor without a reason."""
    return c.CancelPermit(actor=_actor(world, actor), permit_id=pid, reason=reason)


def scan(world: World, pid: uuid.UUID, by: str | Actor = "app", code: str | None = None) -> ScanEvidence:
    """SIG-12 presence evidence: `by` scans the permit's area code (or `code`) just now."""
    return ScanEvidence(
        code=world.permit(pid).content.area if code is None else code,
        scanned_by=_actor(world, by).person_id,
        scanned_at=world.clock.now(),
    )


def _issued(
    kind: type[_Issue],
    world: World,
    pid: uuid.UUID,
    issuer: str | Actor,
    acceptor: str,
    presence: PresenceEvidence | None,
) -> _Issue:
    return kind(
        actor=_actor(world, issuer),
        permit_id=pid,
        signature=world.signature(pid),
        acceptance=world.acceptance(pid, acceptor),
        presence=scan(world, pid, issuer) if presence is None else presence,
    )


def activate(
    world: World,
    pid: uuid.UUID,
    issuer: str | Actor = "app",
    acceptor: str = "req",
    presence: PresenceEvidence | None = None,
) -> c.ActivatePermit:
    """ActivatePermit issued by `issuer` and accepted by `acceptor`; `presence` defaults to the issuer's scan of
    the permit's area just now (SIG-12)."""
    return _issued(c.ActivatePermit, world, pid, issuer, acceptor, presence)


def resume(
    world: World,
    pid: uuid.UUID,
    issuer: str | Actor = "app",
    acceptor: str = "req",
    presence: PresenceEvidence | None = None,
) -> c.ResumePermit:
    """ResumePermit issued by `issuer` and accepted again by `acceptor`, with the issuer's scan (SIG-12)."""
    return _issued(c.ResumePermit, world, pid, issuer, acceptor, presence)


def complete(world: World, pid: uuid.UUID, actor: str | Actor = "req", **kw: Any) -> c.CompletePermit:
    """CompletePermit (hand-back): outcome complete and site safe unless `kw` says otherwise."""
    values: dict[str, Any] = {"outcome": "complete", "site_safe": True}
    values.update(kw)
    return c.CompletePermit(
        actor=_actor(world, actor), permit_id=pid, signature=world.signature(pid), **values
    )


def close(
    world: World, pid: uuid.UUID, actor: str | Actor = "app", inspected_at: datetime | None = None
) -> c.ClosePermit:
    """ClosePermit, the site inspected at `inspected_at` (by default just now)."""
    return c.ClosePermit(
        actor=_actor(world, actor),
        permit_id=pid,
        inspected_at=world.clock.now() if inspected_at is None else inspected_at,
        signature=world.signature(pid),
    )
