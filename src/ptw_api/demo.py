"""A realistic sample project, loaded through `PermitService.execute` only.

The demo drives a `ManualClock` so that a permit can be walked along its whole lifecycle (activation windows,
re-authentication, expiry) in one run: the clock starts some days in the past and advances as the story goes.
Permits that finish their story (closed, completed, cancelled, expired) are played first; permits that stay
live (approved, active, suspended, extended) are played last, close to the real time, so they are still live
when the demo ends.

The site's people are in the organisation's worker registry with their competencies (section 5). Before a permit
is issued (activated or resumed) its crew is named on it, with a fire watch for hot work, and the performing
authority holds a toolbox talk that every assigned worker acknowledges; after a hot-work hand-back the fire watch
keeps and completes the watch before the permit is closed.

Where the category requires gas testing (section 6; hot work in this demo), the site's gas tester tests the work
area within the hour before each issue (GAS-08): a complete session of oxygen, flammables, H2S and CO, read with a
calibrated four-gas monitor. The tank-roof grinding permit is stopped by a failing flammables retest (GAS-11).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.closeout import commands as cc
from ptw_domain.errors import NotFound
from ptw_domain.events.handover import HandoverRole
from ptw_domain.events.isolation import PointSpec
from ptw_domain.events.permit import HandBackOutcome, SuspensionReason
from ptw_domain.gas import commands as gc
from ptw_domain.gas.profiles import FLAMMABLES, OXYGEN, PERCENT, PERCENT_LEL, PPM
from ptw_domain.handover import commands as hc
from ptw_domain.handover.shifts import boundaries_between
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.handling import point_id_for
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.content import PermitContent, WorkNature
from ptw_domain.permit.readiness import Action
from ptw_domain.permit.status import LIVE
from ptw_domain.presence import ScanEvidence
from ptw_domain.roles import Actor, CompanyKind, Member, Role
from ptw_domain.service import PermitService
from ptw_domain.signatures import SignatureInput
from ptw_domain.simops import commands as sc
from ptw_domain.templates.settings import CATEGORY_DEFAULTS, Category

DEFAULT_CODE = "DEMO"

Progress = Callable[[str], None]
"""Called once per finished step with a short label (the CLI advances its progress bar)."""


def project_id_for(code: str) -> UUID:
    """The demo project's id, derived from its code so that every command finds it again."""
    return uuid5(NAMESPACE_URL, f"urn:ptw:demo:project:{code}")


def organisation_id_for(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:ptw:demo:organisation:{code}")


def demo_start(now: datetime | None = None, days: int = 3) -> datetime:
    """The demo clock's start: the current UTC time rounded to the minute, minus some days."""
    current = (now or datetime.now(UTC)).astimezone(UTC)
    return current.replace(second=0, microsecond=0) - timedelta(days=days)


def is_loaded(service: PermitService, code: str) -> bool:
    try:
        service.project(project_id_for(code))
    except NotFound:
        return False
    return True


# --- templates ----------------------------------------------------------------------------------------------

HOT_WORK: dict[str, Any] = {
    "key": "hot-work",
    "category": "hot_work",
    "name": "Hot work (welding, cutting, grinding)",
    "mandatory_ppe": ["Welding gloves", "Face shield"],
    "safety_checklist": [
        "Combustibles removed within 11 m",
        {"key": "extinguisher", "label": "Fire extinguisher at hand"},
        {"key": "drains_covered", "label": "Drains and openings covered"},
    ],
    "closeout_checklists": {  # TPL-10: ticked between hand-back and close (CLO-04)
        "any": [
            "Work area checked for smouldering material",
            {"key": "detection_restored", "label": "Fire and gas detection back in service"},
            {"key": "housekeeping", "label": "Housekeeping done", "required": False},
        ]
    },
}
CONFINED_SPACE: dict[str, Any] = {
    "key": "confined-space",
    "category": "confined_space",
    "name": "Confined space entry",
}
ELECTRICAL: dict[str, Any] = {"key": "electrical", "category": "electrical", "name": "Electrical work"}
WORK_AT_HEIGHT: dict[str, Any] = {
    "key": "work-at-height",
    "category": "work_at_height",
    "name": "Work at height",
}
COLD_WORK: dict[str, Any] = {"key": "cold-work", "category": "cold_work", "name": "Cold work"}
TEMPLATES = (HOT_WORK, CONFINED_SPACE, ELECTRICAL, WORK_AT_HEIGHT, COLD_WORK)

HOT_WORK_CHECKLIST = {"combustibles_removed_within_11_m": True, "extinguisher": True, "drains_covered": True}
HOT_WORK_PPE = ("Welding gloves", "Face shield", "Flame-retardant coveralls")


def _member(
    person_id: str, name: str, *roles: Role, level: int = 3, kind: CompanyKind = CompanyKind.OWNER
) -> Member:
    return Member(
        person_id=person_id, name=name, roles=frozenset(roles), authority_level=level, company_kind=kind
    )


# --- the people ---------------------------------------------------------------------------------------------


FABRICATION = "Northline Fabrication Ltd"
ELECTRICAL_CONTRACTOR = "Voltline Electrical Services"
TANK_SERVICES = "Deepclean Tank Services"
FIRE_TEAM = "Riverside refinery fire team"
OPERATIONS = "Riverside refinery operations"


@dataclass(frozen=True)
class _Worker:
    """A worker of the registry (WRK-01), linked to a cast member who acknowledges briefings personally."""

    person_id: str
    name: str
    company: str
    codes: tuple[str, ...]  # competency codes held (COMP-01)
    role: Role = Role.WORKER
    kind: CompanyKind = CompanyKind.CONTRACTOR

    @property
    def member(self) -> Member:
        return _member(self.person_id, self.name, self.role, level=1, kind=self.kind)


def _fire_watch(person_id: str, name: str) -> _Worker:
    """A fire watch of the owner's fire team."""
    return _Worker(person_id, name, FIRE_TEAM, ("fire_watch",), Role.FIRE_WATCH, CompanyKind.OWNER)


WORKERS: dict[str, _Worker] = {
    "welder": _Worker("d.petrov", "Dmitri Petrov", FABRICATION, ("hot_work",)),
    "welder2": _Worker("l.mendes", "Luis Mendes", FABRICATION, ("hot_work",)),
    "welder3": _Worker("k.adeyemi", "Kemi Adeyemi", FABRICATION, ("hot_work",)),
    "welder4": _Worker("r.costa", "Rui Costa", FABRICATION, ("hot_work",)),
    "fitter": _Worker("p.walsh", "Patrick Walsh", FABRICATION, ("mechanical_fitting", "hot_work")),
    "fitter2": _Worker("c.dubois", "Claire Dubois", FABRICATION, ("mechanical_fitting",)),
    "electrician": _Worker("a.novak", "Ana Novak", ELECTRICAL_CONTRACTOR, ("electrical_authorised",)),
    "entrant": _Worker("o.haddad", "Omar Haddad", TANK_SERVICES, ("confined_space_entry", "gas_testing")),
    "entrant2": _Worker("s.brennan", "Siobhan Brennan", TANK_SERVICES, ("confined_space_entry",)),
    "attendant": _Worker("m.tanaka", "Mei Tanaka", TANK_SERVICES, ("confined_space_attendant", "first_aid")),
    "watch": _fire_watch("g.mwangi", "Grace Mwangi"),
    "watch2": _fire_watch("b.larsen", "Bjorn Larsen"),
    "watch3": _fire_watch("e.fischer", "Eva Fischer"),
    "watch4": _fire_watch("n.yilmaz", "Nuri Yilmaz"),
    # the site's authorised gas tester, an operator of the owner (GAS-01)
    "tester": _Worker(
        "p.raman", "Priya Raman", OPERATIONS, ("gas_testing",), Role.GAS_TESTER, CompanyKind.OWNER
    ),
}

ISSUERS: dict[str, str] = {
    "hot_work": "TWI Certification Ltd",
    "mechanical_fitting": "ECITB",
    "electrical_authorised": "Riverside electrical authorisation board",
    "confined_space_entry": "City & Guilds",
    "confined_space_attendant": "City & Guilds",
    "gas_testing": "Riverside refinery training centre",
    "first_aid": "St John Ambulance",
    "fire_watch": "Riverside refinery training centre",
}
CERTIFIED_BEFORE = timedelta(days=200)
"""Competencies were issued this long before the demo starts and are valid three years: over the whole demo."""
CERTIFIED_FOR = timedelta(days=3 * 365)

GAS_MONITOR = "Altair 4XR S/N 21-0417"
"""The gas tester's four-gas monitor; it was calibrated recently and is next due in a month (GAS-01)."""
CALIBRATION_INTERVAL = timedelta(days=30)
CLEAN_AIR: tuple[tuple[str, float, str], ...] = (
    (OXYGEN, 20.9, PERCENT),
    (FLAMMABLES, 0.0, PERCENT_LEL),
    ("H2S", 0.0, PPM),
    ("CO", 0.0, PPM),
)
"""A passing session in the order GAS-03 asks: oxygen, then flammables, then the toxics (GAS-06)."""

PEOPLE: dict[str, Member] = {
    "admin": _member("a.admin", "Alex Admin", Role.PROJECT_ADMIN),
    "req": _member("r.ibrahim", "Rania Ibrahim", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR),
    "req2": _member("t.okafor", "Tunde Okafor", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR),
    "ver": _member("v.santos", "Vera Santos", Role.VERIFIER, level=3),
    "app": _member("m.keller", "Markus Keller", Role.APPROVER, level=3),
    "app2": _member("j.nakamura", "Jun Nakamura", Role.APPROVER, level=3),
    "area": _member("h.lindqvist", "Helga Lindqvist", Role.AREA_AUTHORITY, level=3),
    "safe": _member("s.osei", "Samuel Osei", Role.SAFETY_OFFICER, level=2),
    "iso": _member("o.hansen", "Ola Hansen", Role.ISOLATING_AUTHORITY, level=3),
    **{key: worker.member for key, worker in WORKERS.items()},
}


def _key_of(person_id: str) -> str:
    """The cast key of a person."""
    return next(key for key, member in PEOPLE.items() if member.person_id == person_id)


def _agenda(content: PermitContent) -> tuple[str, ...]:
    """The topics of a toolbox talk on the permit: its hazards, controls and emergency arrangements (TBT-01)."""
    return (
        *(f"Hazard: {hazard}" for hazard in content.hazards),
        *(f"Control: {control}" for control in content.controls),
        f"Emergency: {content.emergency_arrangements}",
    )


# --- the walks ----------------------------------------------------------------------------------------------


@dataclass
class _Demo:
    service: PermitService
    clock: ManualClock
    code: str
    project_id: UUID
    organisation_id: UUID
    permits: list[UUID] = field(default_factory=list)
    step: Progress = lambda _label: None
    pace: int = 1  # divides every pause; the live stories run at a quicker pace to end before the real time

    def actor(self, who: str, *, org_admin: bool = False) -> Actor:
        """The person as an actor who authenticated just now (fresh SIG-04 evidence)."""
        return Actor(member=PEOPLE[who], auth_time=self.clock.now(), org_admin=org_admin)

    def later(self, minutes: int) -> None:
        """Let `minutes` pass (divided by the pace). On the way, ten minutes before each shift boundary (or at once
        when a boundary has just passed), every live permit's PA hands over to the other requestor (HOV-01..04)."""
        until = self.clock.now() + timedelta(minutes=max(1, minutes // self.pace))
        project = self.service.project(self.project_id)
        grace = timedelta(minutes=project.settings.handover_grace_minutes)
        after = self.clock.now() - grace
        shifts = project.settings.shift_boundaries
        for boundary in boundaries_between(after, until + HANDOVER_LEAD, project.time_zone, shifts):
            self.clock.set(max(self.clock.now(), boundary - HANDOVER_LEAD))
            for pid in self.permits:
                self.hand_over(pid, boundary)
        self.clock.set(until)

    def hand_over(self, pid: UUID, boundary: datetime) -> None:
        """HOV-02/04: the outgoing PA records the handover with the state of the job; the incoming one takes over."""
        state = self.service.permit(pid)
        handed = state.handover.for_boundary(boundary, HandoverRole.PERFORMING)
        if (
            state.status not in LIVE
            or self.clock.now() >= state.valid_until
            or any(h.acknowledged for h in handed)
        ):
            return
        outgoing = self.pa(pid)
        incoming = "req2" if outgoing == "req" else "req"
        handover_id = uuid5(pid, f"handover:{boundary.isoformat()}")
        notes = f"Shift change: {state.status} permit handed over with crew, gas readings and open items"
        self.run(
            hc.RecordHandover(
                actor=self.actor(outgoing),
                permit_id=pid,
                handover_id=handover_id,
                role=HandoverRole.PERFORMING,
                incoming=PEOPLE[incoming],
                notes=notes,
                signature=self.sign(pid),
            )
        )
        self.run(
            hc.AcknowledgeHandover(
                actor=self.actor(incoming), permit_id=pid, handover_id=handover_id, signature=self.sign(pid)
            )
        )

    def sign(self, pid: UUID, *, reauth: bool = False) -> SignatureInput:
        return SignatureInput(
            core_hash=self.service.permit(pid).core_hash,
            reauthenticated_at=self.clock.now() if reauth else None,
        )

    def acceptance(self, pid: UUID) -> c.Acceptance:
        """The acceptance of the permit's performing authority (after a handover: the incoming one)."""
        return c.Acceptance(acceptor=PEOPLE[self.pa(pid)], signature=self.sign(pid, reauth=True))

    def scan(self, pid: UUID, who: str = "app") -> ScanEvidence:
        """SIG-12: on arrival at the work site the issuer scans its location code."""
        code = self.service.permit(pid).content.area
        return ScanEvidence(code=code, scanned_by=PEOPLE[who].person_id, scanned_at=self.clock.now())

    def isolation_point(self, pid: UUID, code: str, point_type: str, location: str, *, category: str) -> None:
        """Register a point of the project's isolation library (ISO-01) and assign it to the permit as required
        (ISO-05, ISO-09), as the isolating authority."""
        area = self.service.permit(pid).content.area
        spec = PointSpec(
            point_code=code,
            point_type=point_type,
            energy_type="electrical",
            area=area,
            location=location,
            verification_method="test_for_dead",
            achievable_category=category,
        )
        self.run(ic.RegisterIsolationPoint(actor=self.actor("iso"), project_id=self.project_id, spec=spec))
        self.run(
            ic.AssignIsolationPoint(
                actor=self.actor("iso"), permit_id=pid, point_id=point_id_for(self.project_id, code)
            ),
            then=5,
        )

    def run(self, command: c.Command, *, then: int | None = None) -> None:
        """Execute one command, then (if given) let `then` minutes pass."""
        self.service.execute(command)
        if then is not None:
            self.later(then)

    def play(self, stories: tuple[tuple[str, Story], ...]) -> None:
        for label, story in stories:
            story(self)
            self.step(label)

    def setup(self) -> None:
        self.run(
            c.OpenProject(
                actor=self.actor("admin", org_admin=True),
                project_id=self.project_id,
                organisation_id=self.organisation_id,
                code=self.code,
                title="Riverside refinery — turnaround 2026",
            )
        )
        # SIM-02: unit 300's condenser bay borders the fractionator and the MCC room; SIMOPS checks work there
        # together.
        self.run(
            sc.PublishZoneMap(
                actor=self.actor("admin"),
                project_id=self.project_id,
                adjacency={"U300-COND": ("U300-FRAC", "U300-MCC3")},
            )
        )
        self.step("project opened")
        for definition in TEMPLATES:
            self.run(
                c.PublishTemplateVersion(
                    actor=self.actor("admin", org_admin=True),
                    organisation_id=self.organisation_id,
                    definition=definition,
                )
            )
        self.step("templates published")
        for key in WORKERS:
            self.register(key)
        self.step("crew registered")

    # --- the worker registry and the people on a permit (section 5) --------------------------------------

    def worker_id(self, key: str) -> UUID:
        return uuid5(self.organisation_id, f"worker:{WORKERS[key].person_id}")

    def worker_key(self, worker_id: UUID) -> str:
        return next(key for key in WORKERS if self.worker_id(key) == worker_id)

    def register(self, key: str) -> None:
        """The organisation admin registers the worker; the safety officer records their competencies."""
        worker = WORKERS[key]
        self.run(
            pc.RegisterWorker(
                actor=self.actor("admin", org_admin=True),
                worker_id=self.worker_id(key),
                organisation_id=self.organisation_id,
                full_name=worker.name,
                company=worker.company,
                person_id=worker.person_id,
            )
        )
        for code in worker.codes:
            self.run(self.competency(key, code))

    def competency(self, key: str, code: str) -> pc.RecordCompetency:
        """COMP-01: a certificate issued before the demo, valid over it, its scan filed as evidence."""
        worker_id = self.worker_id(key)
        uri = f"https://records.riverside.example/competencies/{WORKERS[key].person_id}/{code}.pdf"
        valid_from = self.clock.now() - CERTIFIED_BEFORE
        return pc.RecordCompetency(
            actor=self.actor("safe"),
            worker_id=worker_id,
            competency_id=uuid5(worker_id, f"competency:{code}"),
            code=code,
            valid_from=valid_from,
            valid_until=valid_from + CERTIFIED_FOR,
            issuer=ISSUERS[code],
            evidence_uri=uri,
            evidence_sha256=sha256(uri.encode()).hexdigest(),
        )

    def pa(self, pid: UUID) -> str:
        """The cast key of the permit's performing authority."""
        return _key_of(self.service.permit(pid).performing_authority)

    def assign(self, pid: UUID, *workers: str, role: PermitRole = PermitRole.CREW) -> None:
        """The performing authority names `workers` on the permit in `role` (WRK-02)."""
        for key in workers:
            self.run(
                pc.AssignWorker(
                    actor=self.actor(self.pa(pid)),
                    permit_id=pid,
                    worker_id=self.worker_id(key),
                    permit_roles=(role,),
                )
            )

    def crew(self, pid: UUID, *crew: str, fire_watch: str | None = None) -> None:
        """The crew of the permit and, for hot work, its fire watch, who is not one of the crew (CLO-02, SOD-08);
        the fire watch is on the permit in that role too, so that they attend the briefing."""
        self.assign(pid, *crew)
        if fire_watch is None:
            return
        self.assign(pid, fire_watch, role=PermitRole.FIRE_WATCH)
        command = pc.AssignFireWatch(
            actor=self.actor(self.pa(pid)), permit_id=pid, worker_id=self.worker_id(fire_watch)
        )
        self.run(command)

    def brief(self, pid: UUID, *opening: str) -> None:
        """TBT-01/02: the PA talks the crew through the permit for a quarter of an hour, `opening` topics first;
        then every assigned worker acknowledges the briefing personally."""
        state = self.service.permit(pid)
        tbt_id = uuid5(pid, f"briefing:{len(state.people.briefings) + 1}")
        held = pc.HoldToolboxTalk(
            actor=self.actor(self.pa(pid)),
            permit_id=pid,
            tbt_id=tbt_id,
            held_at=self.clock.now(),
            topics=(*opening, *_agenda(state.content)),
        )
        self.run(held, then=15)
        for assignment in state.people.assignments:
            key = self.worker_key(assignment.worker_id)
            self.run(
                pc.AttendToolboxTalk(
                    actor=self.actor(key), permit_id=pid, tbt_id=tbt_id, worker_id=assignment.worker_id
                )
            )

    # --- gas testing (section 6) ---------------------------------------------------------------------------

    def gas_test(self, pid: UUID, **values: float) -> None:
        """GAS-01..06: the gas tester tests the work area with the calibrated monitor, a minute per reading, in
        the GAS-03 order; `values` replace clean-air readings (e.g. `LEL=12.0`). The session completes after CO,
        or at a failing reading."""
        session_id = uuid5(pid, f"gas-session:{len(self.service.permit(pid).gas.completed) + 1}")
        for gas, clean, unit in CLEAN_AIR:
            self.run(
                gc.RecordGasReading(
                    actor=self.actor("tester"),
                    permit_id=pid,
                    reading_id=uuid5(session_id, gas),
                    session_id=session_id,
                    gas=gas,
                    value=values.get(gas, clean),
                    unit=unit,
                    tested_at=self.clock.now(),
                    instrument=GAS_MONITOR,
                    calibration_due=self.clock.now() + CALIBRATION_INTERVAL,
                    tester_worker_id=self.worker_id("tester"),
                ),
                then=1,
            )
            if self.service.permit(pid).gas.session(session_id).complete:
                return

    def prepare_issue(self, pid: UUID, *opening: str) -> None:
        """Before an activation or a resume: a fresh passing gas test where the category requires one (GAS-08),
        then the crew's briefing (TBT-03/05)."""
        category = Category(self.service.permit(pid).category)
        if CATEGORY_DEFAULTS[category]["requires_gas_testing"]:
            self.gas_test(pid)
        self.brief(pid, *opening)

    def end_fire_watch(self, pid: UUID) -> None:
        """CLO-03: the fire watch, having watched the site since the hand-back, completes the watch."""
        watcher = self.service.permit(pid).people.fire_watch
        assert watcher is not None, "a hot-work permit has a fire watch"
        self.run(pc.CompleteFireWatch(actor=self.actor(self.worker_key(watcher)), permit_id=pid), then=5)

    def draft(
        self,
        template: str,
        *,
        title: str,
        description: str,
        area: str,
        location: str,
        starts_in: timedelta = timedelta(hours=1),
        hours: int = 8,
        requestor: str = "req",
        **content: Any,
    ) -> UUID:
        """A new permit drafted by `requestor`; `content` holds its further PermitContent fields."""
        pid = uuid5(self.project_id, f"permit:{len(self.permits) + 1}")
        start = self.clock.now().replace(second=0, microsecond=0) + starts_in
        values: dict[str, Any] = {
            "title": title,
            "description": description,
            "area": area,
            "location": location,
            "planned_start": start,
            "planned_end": start + timedelta(hours=hours),
            "work_nature": WorkNature.BOTH,
            "probability": 2,
            "severity": 3,
            "emergency_arrangements": "Muster point B; site emergency number 2222; rescue team on standby",
            **content,
        }
        if template == "hot-work":
            values.setdefault("ppe", HOT_WORK_PPE)
            values.setdefault("checklist_answers", HOT_WORK_CHECKLIST)
        values.setdefault("ppe", ("Hard hat", "Safety glasses", "Safety boots", "Gloves"))
        self.run(
            c.CreatePermit(
                actor=self.actor(requestor),
                permit_id=pid,
                project_id=self.project_id,
                template_key=template,
                content=PermitContent(**values),
            ),
            then=5,
        )
        self.permits.append(pid)
        return pid

    # Each walk goes one act further than the one before; every act is signed by a freshly authenticated actor.

    def submitted(self, pid: UUID, requestor: str = "req") -> None:
        self.run(c.NominateVerifier(actor=self.actor(requestor), permit_id=pid, verifier=PEOPLE["ver"]))
        self.run(
            c.SubmitPermit(actor=self.actor(requestor), permit_id=pid, signature=self.sign(pid)), then=10
        )

    def under_review(self, pid: UUID, requestor: str = "req") -> None:
        self.submitted(pid, requestor)
        approvers = (PEOPLE["app"], PEOPLE["app2"])
        self.run(
            c.VerifyPermit(
                actor=self.actor("ver"), permit_id=pid, approvers=approvers, signature=self.sign(pid)
            ),
            then=10,
        )

    def approved(self, pid: UUID, requestor: str = "req") -> None:
        self.under_review(pid, requestor)
        self.run(c.ApprovePermit(actor=self.actor("app"), permit_id=pid, signature=self.sign(pid)), then=5)

    def activated(
        self, pid: UUID, requestor: str = "req", *, waited: int | None = None, inhibit: str | None = None
    ) -> None:
        """Approved (and, if `inhibit` names a system, that safety system inhibited for the work, CLO-06), then
        (after `waited` minutes, if given) the gas is tested where required, the crew is briefed (TBT-03) and the
        issuer, having scanned the work area's code (SIG-12), activates the permit with its PA as the acceptor."""
        self.approved(pid, requestor)
        if inhibit is not None:
            self.apply_inhibit(pid, inhibit)
        if waited is not None:
            self.later(waited)
        self.prepare_issue(pid)
        acceptance = self.acceptance(pid)
        self.run(
            c.ActivatePermit(
                actor=self.actor("app"),
                permit_id=pid,
                signature=self.sign(pid),
                acceptance=acceptance,
                presence=self.scan(pid),
            ),
            then=5,
        )

    def apply_inhibit(self, pid: UUID, system: str) -> None:
        """CLO-06: the area authority inhibits `system` for the work, expected back in service within 12 h."""
        state = self.service.permit(pid)
        command = cc.ApplyInhibit(
            actor=self.actor("area"),
            permit_id=pid,
            inhibit_id=uuid5(pid, f"inhibit:{len(state.closeout.inhibits) + 1}"),
            system=system,
            tag=state.content.equipment_tags[0] if state.content.equipment_tags else state.content.area,
            reason="Hot work would set off the detectors around the work area",
            expected_restore_at=self.clock.now() + timedelta(hours=12),
        )
        self.run(command, then=5)

    def close_out(self, pid: UUID) -> None:
        """CLO-06 and CLO-04 after hand-back: the area authority restores each inhibit, the safety officer confirms
        it; the issuer ticks the pinned close-out checklist while inspecting the site."""
        state = self.service.permit(pid)
        for inhibit in state.closeout.open_inhibits():
            confirm = PEOPLE["safe"].person_id
            command = cc.RestoreInhibit(
                actor=self.actor("area"), permit_id=pid, inhibit_id=inhibit.inhibit_id, confirmed_by=confirm
            )
            self.run(command, then=5)
        for item in state.closeout.checklist:
            self.run(cc.CheckCloseoutItem(actor=self.actor("app"), permit_id=pid, key=item.key), then=2)

    def handed_back(
        self,
        pid: UUID,
        outcome: HandBackOutcome,
        *,
        work: int,
        remaining: str = "",
        requestor: str = "req",
        inhibit: str | None = None,
    ) -> None:
        """Activated half an hour after approval, worked on for `work` minutes, handed back by the PA (`requestor`,
        or whoever took over at a shift change)."""
        self.activated(pid, requestor, waited=30, inhibit=inhibit)
        self.later(work)
        self.run(
            c.CompletePermit(
                actor=self.actor(self.pa(pid)),
                permit_id=pid,
                outcome=outcome,
                site_safe=True,
                remaining_hazards=remaining,
                signature=self.sign(pid),
            ),
            then=10,
        )
        self.later(60)

    def suspend(self, pid: UUID, reason_code: SuspensionReason, text: str, *, then: int) -> None:
        """The safety officer stops the work."""
        command = c.SuspendPermit(actor=self.actor("safe"), permit_id=pid, reason_code=reason_code, text=text)
        self.run(command, then=then)

    def extension(self, pid: UUID, *, hours: int, reason: str, approve: bool, refusal: str = "") -> None:
        """The PA asks for `hours` more; the second approver grants it (reassessed) or refuses it."""
        extension = uuid5(pid, "extension:1")
        valid_until = self.service.permit(pid).valid_until
        self.run(
            c.RequestExtension(
                actor=self.actor(self.pa(pid)),
                permit_id=pid,
                extension_id=extension,
                requested_end=valid_until + timedelta(hours=hours),
                reason=reason,
            ),
            then=5,
        )
        self.run(
            c.DecideExtension(
                actor=self.actor("app2"),
                permit_id=pid,
                extension_id=extension,
                approve=approve,
                reason=refusal,
                reassessment_confirmed=approve,
                signature=self.sign(pid),
            ),
            then=5,
        )


Story = Callable[[_Demo], None]
"""One permit's story: drafts the permit and walks it to where the story ends."""

TOMORROW = timedelta(hours=18)
SOON = timedelta(minutes=30)
HANDOVER_LEAD = timedelta(minutes=10)
"""Live permits are handed over this long before each shift boundary (inside the HOV-02 window)."""


# --- phase 1: stories that are finished ---------------------------------------------------------------------


def _closed(demo: _Demo) -> None:
    """Weld, hand back, inspect, close."""
    pid = demo.draft(
        "hot-work",
        title="Weld support shoe on pipe rack 3",
        description="Weld a new support shoe under line 6in-P-1043 on pipe rack 3, bay 12; "
        "grinding of weld preparation; no work on live lines.",
        area="U100-PR3",
        location="Pipe rack 3, bay 12, level +7.5 m",
        equipment_tags=("6in-P-1043",),
        hazards=("Fire and explosion from hot sparks", "Burns", "Fumes"),
        controls=("Fire blanket over grating", "Continuous gas monitor", "Fire watch 60 min after"),
    )
    demo.crew(pid, "welder", "fitter", fire_watch="watch")
    demo.handed_back(pid, HandBackOutcome.COMPLETE, work=240, inhibit="Fire and gas detection, bay 12")
    demo.end_fire_watch(pid)
    demo.close_out(pid)
    inspected_at = demo.clock.now() - timedelta(minutes=5)
    demo.run(
        c.ClosePermit(
            actor=demo.actor("app"), permit_id=pid, inspected_at=inspected_at, signature=demo.sign(pid)
        ),
        then=60,
    )


def _completed(demo: _Demo) -> None:
    """Handed back, awaiting close-out."""
    pid = demo.draft(
        "cold-work",
        title="Replace strainer basket on CW pump P-2201B",
        description="Open strainer housing on cooling-water pump P-2201B suction, replace basket and "
        "gasket, box up and leak test at operating pressure.",
        area="U220-CW",
        location="Cooling water pump house, pump P-2201B",
        equipment_tags=("P-2201B", "S-2201B"),
        hazards=("Residual water pressure", "Manual handling"),
        controls=("Pump isolated and drained by operations", "Two-person lift"),
    )
    demo.crew(pid, "fitter", "fitter2")
    demo.handed_back(pid, HandBackOutcome.COMPLETE, work=180)


def _incomplete_hand_back(demo: _Demo) -> None:
    pid = demo.draft(
        "cold-work",
        title="Re-pack valve gland on HV-3107",
        description="Re-pack the gland of manual valve HV-3107 on the condensate header; stop if the "
        "stem is damaged.",
        area="U300-COND",
        location="Condensate header, north end",
        equipment_tags=("HV-3107",),
        requestor="req2",
        hazards=("Hot condensate", "Pinch points"),
        controls=("Header depressurised and cooled", "Gloves and face shield"),
    )
    demo.crew(pid, "fitter2")
    remaining = "Valve stem scored: gland left un-packed, valve tagged out, spare ordered"
    demo.handed_back(pid, HandBackOutcome.INCOMPLETE, work=120, remaining=remaining, requestor="req2")


def _cancelled(demo: _Demo) -> None:
    """Cancelled after submission."""
    pid = demo.draft(
        "confined-space",
        title="Inspect sump pit SP-12",
        description="Enter sump pit SP-12 to inspect the level switch and remove silt.",
        area="U500-OSBL",
        location="Sump pit SP-12 near tank farm gate",
        equipment_tags=("SP-12", "LSH-512"),
        confined_space=True,
        probability=2,
        severity=4,
        hazards=("Oxygen deficiency", "H2S", "Engulfment"),
        controls=("Forced ventilation", "Continuous 4-gas monitoring", "Standby attendant"),
    )
    demo.submitted(pid)
    reason = "Level switch can be replaced from grade with the extension tool: no entry needed"
    demo.run(c.CancelPermit(actor=demo.actor("req"), permit_id=pid, reason=reason), then=30)


def _expired(demo: _Demo) -> None:
    """Approved, but the start window was missed."""
    pid = demo.draft(
        "cold-work",
        title="Install temporary pressure gauge on V-410",
        description="Install a temporary calibrated gauge on vessel V-410 test connection for the "
        "pressure survey.",
        area="U400-SEP",
        location="Separator V-410, grade level",
        equipment_tags=("V-410", "PI-410T"),
        hazards=("Pressure release",),
        controls=("Double block and bleed on test connection",),
    )
    demo.approved(pid)
    demo.later(4 * 60)  # the crew never showed up: the start window closes
    demo.service.run_sweep()
    demo.later(30)


FINISHED_STORIES: tuple[tuple[str, Story], ...] = (
    ("closed", _closed),
    ("completed", _completed),
    ("incomplete hand-back", _incomplete_hand_back),
    ("cancelled", _cancelled),
    ("expired", _expired),
)


# --- phase 2: stories still going on: waiting for tomorrow ---------------------------------------------------


def _draft_only(demo: _Demo) -> None:
    demo.draft(
        "work-at-height",
        title="Replace lighting on flare stack platform",
        description="Replace two floodlights on the flare stack access platform at +32 m; work from the "
        "fixed platform with harness anchored to the handrail post.",
        area="U900-FLARE",
        location="Flare stack FS-901, platform +32 m",
        equipment_tags=("FS-901",),
        starts_in=TOMORROW,
        hazards=("Fall from height", "Dropped objects"),
        controls=("Full-body harness", "Tool lanyards", "Exclusion zone below"),
    )


def _submitted(demo: _Demo) -> None:
    pid = demo.draft(
        "work-at-height",
        title="Scaffold erection around column C-301",
        description="Erect tube-and-fitting scaffold around column C-301 from +12 m to +24 m for "
        "insulation repairs.",
        area="U300-FRAC",
        location="Column C-301 east face",
        equipment_tags=("C-301",),
        starts_in=TOMORROW,
        probability=3,
        severity=3,
        hazards=("Fall from height", "Dropped objects", "Manual handling"),
        controls=("Scaffold inspector on site", "Barricaded drop zone", "100 % tie-off"),
    )
    demo.submitted(pid)


def _under_review(demo: _Demo) -> None:
    pid = demo.draft(
        "confined-space",
        title="Internal inspection of crude tank T-204",
        description="Enter crude storage tank T-204 through manway M2 for floor plate thickness "
        "survey; tank cleaned, blinded and gas-freed.",
        area="U600-TANKS",
        location="Tank T-204, manway M2",
        equipment_tags=("T-204",),
        confined_space=True,
        starts_in=TOMORROW,
        probability=2,
        severity=5,
        hazards=("Toxic atmosphere", "Oxygen deficiency", "Restricted egress"),
        controls=("Positive isolation by blinds", "Forced ventilation", "Attendant and rescue plan"),
    )
    demo.assign(pid, "entrant", "entrant2", role=PermitRole.ENTRANT)  # the entry roster, planned ahead
    demo.assign(pid, "attendant", role=PermitRole.ATTENDANT)
    demo.under_review(pid)


def _rejected_and_resubmitted(demo: _Demo) -> None:
    pid = demo.draft(
        "work-at-height",
        title="Paint pipe bridge PB-2 from MEWP",
        description="Touch-up painting of pipe bridge PB-2 steel from a mobile elevating work platform.",
        area="U200-PB2",
        location="Pipe bridge PB-2 over road 4",
        starts_in=TOMORROW,
        requestor="req2",
        hazards=("Fall from height",),
        controls=("Harness in MEWP basket",),
    )
    demo.submitted(pid, "req2")
    reason = "Road 4 traffic management missing; add road closure and banksman"
    demo.run(c.RejectPermit(actor=demo.actor("ver"), permit_id=pid, reason=reason), then=30)
    changes = c.PermitChanges(
        hazards=("Fall from height", "Vehicle strike"),
        controls=("Harness in MEWP basket", "Road 4 closed with banksman"),
    )
    demo.run(c.EditPermit(actor=demo.actor("req2"), permit_id=pid, changes=changes))
    demo.run(c.ResubmitPermit(actor=demo.actor("req2"), permit_id=pid, signature=demo.sign(pid)), then=10)


def _withdrawn(demo: _Demo) -> None:
    """Withdrawn back to draft."""
    pid = demo.draft(
        "electrical",
        title="Thermographic survey of substation SS-2",
        description="Open panel covers in substation SS-2 for infrared thermography of busbars.",
        area="U800-SS2",
        location="Substation SS-2, switchroom A",
        equipment_tags=("SS-2",),
        starts_in=TOMORROW,
        hazards=("Arc flash", "Electric shock"),
        controls=("Arc-rated PPE cat. 2", "Authorised person present"),
    )
    demo.submitted(pid)
    reason = "Survey date moved by the electrical team"
    demo.run(c.WithdrawPermit(actor=demo.actor("req"), permit_id=pid, reason=reason), then=10)


def _approved(demo: _Demo) -> None:
    """Approved, to start tomorrow."""
    pid = demo.draft(
        "electrical",
        title="Replace contactor in MCC-3 bucket 4B",
        description="Replace the faulty contactor of motor starter bucket 4B in MCC-3 feeding pump "
        "P-3302A; bucket racked out and locked off.",
        area="U300-MCC3",
        location="Substation SS-3, MCC-3",
        equipment_tags=("MCC-3", "P-3302A"),
        starts_in=TOMORROW,
        severity=4,
        hazards=("Electric shock", "Arc flash"),
        controls=("Isolate, lock and prove dead", "Arc-rated PPE"),
    )
    demo.crew(pid, "electrician")  # briefed tomorrow, before the issue
    demo.isolation_point(pid, "MCC3-4B-CB", "breaker", "Bucket 4B incomer breaker", category="II")
    demo.approved(pid)  # isolated and proved dead tomorrow, before the issue (ISO-10)


# --- phase 2: stories still going on: work under way ---------------------------------------------------------


def _active(demo: _Demo) -> None:
    pid = demo.draft(
        "hot-work",
        title="Weld repair on pipe rack 2 crossover",
        description="Weld repair of corroded pipe shoe on crossover 8in-HC-2210 on pipe rack 2; line "
        "drained, purged and gas-free.",
        area="U200-PR2",
        location="Pipe rack 2, crossover at bay 4",
        equipment_tags=("8in-HC-2210",),
        starts_in=SOON,
        hours=12,
        hazards=("Fire and explosion", "Burns", "Welding fumes"),
        controls=("Line purged with nitrogen", "Continuous gas monitor", "Fire watch"),
    )
    demo.crew(pid, "welder", fire_watch="watch")
    demo.activated(pid)


def _suspended(demo: _Demo) -> None:
    """Stopped by a failing flammables retest on the tank roof; a resume will need a newer passing test (GAS-12)."""
    pid = demo.draft(
        "hot-work",
        title="Grinding on tank T-102 roof nozzle",
        description="Grind and weld a new flange on roof nozzle N7 of tank T-102.",
        area="U600-TANKS",
        location="Tank T-102 roof, nozzle N7",
        equipment_tags=("T-102",),
        starts_in=SOON,
        hours=12,
        requestor="req2",
        probability=3,
        severity=3,
        hazards=("Flammable vapour", "Fire", "Fall from height"),
        controls=("Roof vents sealed", "Gas monitor", "Fire watch"),
    )
    demo.crew(pid, "welder2", fire_watch="watch2")
    demo.activated(pid, "req2")
    demo.later(20)
    demo.gas_test(pid, LEL=12.0)  # vapour from the nozzle: the retest fails and suspends the permit (GAS-11)
    demo.later(5)


def _resumed(demo: _Demo) -> None:
    """Suspended and resumed: active again."""
    pid = demo.draft(
        "cold-work",
        title="Laser alignment of pump P-1105A",
        description="Laser alignment of pump and motor P-1105A after motor replacement.",
        area="U100-PUMPS",
        location="Pump bay 1, P-1105A",
        equipment_tags=("P-1105A",),
        starts_in=SOON,
        hours=12,
        hazards=("Rotating equipment", "Pinch points"),
        controls=("Motor isolated and locked", "Coupling guard removed only when locked"),
    )
    demo.crew(pid, "fitter", "fitter2")
    demo.activated(pid)
    demo.later(15)
    text = "Unit upset: all non-essential work stopped by the shift supervisor"
    demo.suspend(pid, SuspensionReason.OTHER, text, then=20)
    demo.prepare_issue(pid, "Unit upset over: conditions checked before restart")  # TBT-05
    resume = c.ResumePermit(
        actor=demo.actor("app"),
        permit_id=pid,
        signature=demo.sign(pid),
        acceptance=demo.acceptance(pid),
        presence=demo.scan(pid),
    )
    demo.run(resume, then=5)


def _extended(demo: _Demo) -> None:
    pid = demo.draft(
        "hot-work",
        title="Cut and replace drain line on HX-501",
        description="Cut out corroded 2in drain line of exchanger HX-501 and weld in new spool.",
        area="U500-HX",
        location="Exchanger HX-501 bay",
        equipment_tags=("HX-501",),
        starts_in=SOON,
        hours=12,
        hazards=("Fire", "Residual hydrocarbon"),
        controls=("Exchanger steamed out", "Gas monitor", "Fire watch"),
    )
    demo.crew(pid, "welder3", fire_watch="watch3")
    demo.activated(pid)
    demo.later(10)
    reason = "Spool fit-up took longer: weld and NDT need three more hours"
    demo.extension(pid, hours=3, reason=reason, approve=True)


def _extension_rejected(demo: _Demo) -> None:
    pid = demo.draft(
        "hot-work",
        title="Hot tap preparation on firewater ring main",
        description="Weld split tee on the 10in firewater ring main at hydrant H-14 for a future hot tap.",
        area="U000-FW",
        location="Firewater ring main near hydrant H-14",
        equipment_tags=("FW-RING", "H-14"),
        starts_in=SOON,
        hours=12,
        requestor="req2",
        hazards=("Fire", "Loss of firewater coverage"),
        controls=("Temporary firewater hose from H-15", "Fire watch"),
    )
    demo.crew(pid, "welder4", fire_watch="watch4")
    demo.activated(pid, "req2")
    demo.later(10)
    refusal = "Firewater coverage cannot be reduced overnight: finish and raise a new permit tomorrow"
    demo.extension(pid, hours=4, reason="Weld inspection delayed", approve=False, refusal=refusal)


def _simops_accepted(demo: _Demo) -> None:
    """SIMOPS (section 8): hot work beside tank T-204 while it is entered overlaps the confined-space permit in the
    same area: a high SIM-M01 conflict blocks the newer permit's approval (SIM-06) until the area authority accepts
    it with controls (SIM-08); then the hot work is approved, to start tomorrow."""
    tank = next(
        demo.service.permit(pid)
        for pid in demo.permits
        if demo.service.permit(pid).content.title == "Internal inspection of crude tank T-204"
    )
    starts_in = (
        tank.content.planned_start + timedelta(hours=1) - demo.clock.now().replace(second=0, microsecond=0)
    )
    pid = demo.draft(
        "hot-work",
        title="Weld new davit bracket on tank T-204 roof",
        description="Weld a replacement davit bracket on the roof of crude tank T-204, next to the inspection "
        "manway; grinding of the weld preparation.",
        area="U600-TANKS",
        location="Tank T-204 roof, near manway M1",
        equipment_tags=("T-204-DAVIT",),
        starts_in=starts_in,
        hours=6,
        requestor="req2",
        probability=3,
        severity=4,
        hazards=("Fire and explosion near an open tank", "Burns", "Welding fumes"),
        controls=("Gas monitor", "Fire watch", "Fire blanket over the nozzle"),
    )
    demo.under_review(pid, "req2")
    blocker = next(
        b for b in demo.service.readiness(pid).actions[Action.APPROVE].blockers if b.rule == "SIM-06"
    )
    controls = (
        "Hot work paused while the manway is open; continuous LEL monitoring at the tank; "
        "fire blanket over the nozzle"
    )
    demo.run(
        sc.ResolveConflict(
            actor=demo.actor("area"),
            conflict_id=UUID(blocker.facts["conflict_id"]),
            decision="accept_with_controls",
            controls=controls,
        ),
        then=10,
    )
    demo.run(c.ApprovePermit(actor=demo.actor("app"), permit_id=pid, signature=demo.sign(pid)), then=5)


LIVE_STORIES: tuple[tuple[str, Story], ...] = (
    ("draft", _draft_only),
    ("submitted", _submitted),
    ("under review", _under_review),
    ("rejected and resubmitted", _rejected_and_resubmitted),
    ("withdrawn", _withdrawn),
    ("approved", _approved),
    ("active", _active),
    ("suspended", _suspended),
    ("resumed", _resumed),
    ("extended", _extended),
    ("extension rejected", _extension_rejected),
    ("SIMOPS conflict accepted", _simops_accepted),
)

STEPS = 3 + len(FINISHED_STORIES) + len(LIVE_STORIES)
"""Progress steps reported by `load_demo`: setup (3), finished stories (5), live stories (12)."""


def load_demo(
    service: PermitService, clock: ManualClock, code: str = DEFAULT_CODE, *, step: Progress | None = None
) -> list[UUID]:
    """Load the sample project through `service.execute` (and one `run_sweep`); return the permit ids.

    `service` must run on `clock`. Permits that finish their story are played first, from the clock's start;
    live ones are played last, starting three hours before the real time, so they are still live at the end.
    """
    demo = _Demo(
        service=service,
        clock=clock,
        code=code,
        project_id=project_id_for(code),
        organisation_id=organisation_id_for(code),
    )
    if step is not None:
        demo.step = step
    demo.setup()
    demo.play(FINISHED_STORIES)
    live_from = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    if clock.now() < live_from:
        clock.set(live_from)
    demo.pace = 4
    demo.play(LIVE_STORIES)
    return demo.permits
