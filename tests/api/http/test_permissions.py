# ruff: noqa: N802
"""The SEC-04 permission table over HTTP, cell by cell (SEC-04, SEC-05, ROLE-07, ROLE-08, TEN-04).

Every action row of domain.md §18 that has an endpoint is a `Case`: how to bring a fresh permit (or isolation,
conflict...) to the state where the action makes sense, the command, and the row's twelve cells in the table's
column order. The roles act through their tokens only (ROLE-08): a persona `x-<role>` holds that one role
(level 3, owner company, so level and company kind never stand in the way) and is party to nothing. A cell

* `·` must answer 403 `forbidden`;
* `Y` must not answer 403 — nor any other refusal of the request itself (400, 401, 404, 422, 500): the state may
  still refuse it with a 409 guard failure;
* `P` is tested twice: the named party (SEC-05) is not refused 403, a persona of the same role who is not the
  party is.

A parenthesised qualifier of the table ("Y (library)", "P (verify)") is resolved per endpoint. The big matrix runs
on SQLite with one app per module (every case builds objects of its own); a slice runs on PostgreSQL too.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from ptw_api.http.auth import ProjectGrant, mint_token
from ptw_api.http.command_routes import ROUTES
from ptw_domain import commands as c
from ptw_domain.closeout import commands as cc
from ptw_domain.events.permit import HandBackOutcome, SuspensionReason
from ptw_domain.events.project import ProjectSettings
from ptw_domain.gas import commands as gc
from ptw_domain.gas.profiles import OSHA_DEFAULT
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.handling import point_id_for
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.readiness import Action
from ptw_domain.presence import ScanEvidence
from ptw_domain.records import commands as rc
from ptw_domain.roles import DEFAULT_ROLE_POLICY, ActorKind, CompanyKind, Member, Role
from ptw_domain.signatures import SignatureInput
from ptw_domain.simops import commands as sc
from ptw_domain.simops.model import DEFAULT_MATRIX
from tests.api.http.conftest import grant_of
from tests.api.http.matrix import Env, assert_problem, open_env
from tests.builders import World, absence_facts, activate, approve, lock_exception, nominate

COLUMNS = (
    Role.REQUESTOR,
    Role.VERIFIER,
    Role.APPROVER,
    Role.AREA_AUTHORITY,
    Role.ISOLATING_AUTHORITY,
    Role.GAS_TESTER,
    Role.FIRE_WATCH,
    Role.SAFETY_OFFICER,
    Role.WORKER,
    Role.PROJECT_ADMIN,
    Role.AUDITOR,
    Role.INTEGRATION,
)
# A refusal of the request itself, never the answer to an allowed role (a 409 is the state's answer).
NOT_REACHED = frozenset({400, 401, 403, 404, 405, 413, 422, 500})
_spots = itertools.count(1)

Maker = Callable[[str], c.Command]  # the command, given the person who sends it


@dataclass(frozen=True)
class Built:
    """A maker whose P-cell parties are made with it (e.g. a worker registered for the case)."""

    make: Maker
    parties: dict[Role, str]


def persona(role: Role) -> str:
    return f"x-{role.value}"


def _personas(world: World) -> None:
    for role in COLUMNS:
        world.people[persona(role)] = Member(
            person_id=persona(role),
            name=f"Only {role.value}",
            roles=frozenset({role}),
            authority_level=3,
            company_kind=CompanyKind.OWNER,
        )


# --- building blocks --------------------------------------------------------------------------------------


def spot() -> dict[str, Any]:
    """A place of its own, so that permits of different cases never meet in SIMOPS."""
    n = next(_spots)
    return {"area": f"Z{n}", "equipment_tags": (f"Z-{n}",)}


def sig(w: World, pid: uuid.UUID) -> SignatureInput:
    """A signature over the permit's current core hash with fresh re-authentication (SIG-04, SIG-05)."""
    return SignatureInput(core_hash=w.permit(pid).core_hash, reauthenticated_at=w.clock.now())


def anyone(w: World) -> Any:
    """The actor a command is built with; the wire drops it, the token decides who acts (ROLE-08)."""
    return w.actor("admin")


def fresh_crew(w: World) -> str:
    """A worker of this case alone: a lock-removal exception flags its worker (LOCK-04) for good."""
    name = f"crew-{next(_spots)}"
    w.register_worker(name, "hot_work", "confined_space_entry", "electrical_authorised")
    return name


def active_with_point(w: World, crew: str) -> uuid.UUID:
    """An active hot-work permit with an isolated, verified point, `crew` assigned and briefed."""
    pid = w.under_review(**spot())
    w.assign_point(pid)
    w.run(approve(w, pid))
    w.prepare_crew(pid, crew)
    w.clock.advance(timedelta(minutes=30))
    w.run(activate(w, pid))
    return pid


def ready_to_close(w: World) -> uuid.UUID:
    pid = w.completed(**spot())
    w.clock.advance(timedelta(minutes=45))
    if w.permit(pid).fire_watch_started_at is not None:
        w.complete_fire_watch(pid)
    return pid


def issue(kind: type[Any], w: World, pid: uuid.UUID, who: str) -> Any:
    return kind(
        actor=anyone(w),
        permit_id=pid,
        signature=sig(w, pid),
        acceptance=w.acceptance(pid, "req"),
        presence=ScanEvidence(code=w.permit(pid).content.area, scanned_by=who, scanned_at=w.clock.now()),
    )


def isolation_of(w: World, pid: uuid.UUID) -> uuid.UUID:
    return w.permit(pid).isolations.assignments[0].isolation_id


def isolate(w: World, isolation_id: uuid.UUID) -> None:
    w.run(
        ic.IsolatePoint(
            actor=w.actor("iso"),
            isolation_id=isolation_id,
            lock_ids=(f"L-{uuid.uuid4().hex[:6]}",),
            tag="DANGER DO NOT OPERATE",
            method="closed, locked, tagged",
            achieved_category="I",
            isolated_at=w.clock.now(),
            isolator_worker_id=w.workers["iso"],
        )
    )


def reading(w: World, pid: uuid.UUID, reading_id: uuid.UUID | None = None) -> gc.RecordGasReading:
    return gc.RecordGasReading(
        actor=w.actor("tester"),
        permit_id=pid,
        reading_id=reading_id or uuid.uuid4(),
        session_id=uuid.uuid4(),
        gas="O2",
        value=20.9,
        unit="%vol",
        tested_at=w.clock.now(),
        instrument="MX4-0042",
        calibration_due=w.clock.now() + timedelta(days=30),
        tester_worker_id=w.workers["tester"],
    )


def locked(w: World, crew: str) -> tuple[uuid.UUID, str]:
    """An active permit on which `crew` holds personal lock PL-<n>."""
    pid = active_with_point(w, crew)
    lock = f"PL-{next(_spots)}"
    w.run(ic.ApplyPersonalLock(actor=w.actor(crew), permit_id=pid, lock_id=lock, worker_id=w.workers[crew]))
    return pid, lock


# --- the cases: one per endpoint of a SEC-04 row ----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    row: str  # the SEC-04 row
    cells: str  # REQ VER APP AREA ISO GAS FW SAFE WRK ADM AUD INT, separated by spaces
    build: Callable[[World], Maker | Built]
    parties: dict[Role, str] = field(default_factory=dict)  # who is the party of a P cell
    actors: dict[Role, str] = field(default_factory=dict)  # who acts for a Y cell (default the persona)
    # cells the domain answers otherwise, (role, kind) -> why; run as strict xfails and reported
    deviations: dict[tuple[Role, str], str] = field(default_factory=dict)

    def cell(self, role: Role) -> str:
        return self.cells.split()[COLUMNS.index(role)]


def _create(w: World) -> Maker:
    return lambda who: c.CreatePermit(
        actor=anyone(w),
        permit_id=uuid.uuid4(),
        project_id=w.project_id,
        template_key="cold-work",
        content=w.content(**spot()),
    )


def _edit(w: World) -> Maker:
    pid = w.draft(**spot())
    return lambda who: c.EditPermit(
        actor=anyone(w), permit_id=pid, changes=c.PermitChanges(description="Weld two brackets")
    )


def _amend(w: World) -> Maker:
    pid = w.submitted(**spot())
    return lambda who: c.AmendPermit(
        actor=anyone(w),
        permit_id=pid,
        changes=c.PermitChanges(description="Weld two brackets"),
        reason="scope",
    )


def _nominate_verifier(w: World) -> Maker:
    pid = w.draft(**spot())
    return lambda who: c.NominateVerifier(actor=anyone(w), permit_id=pid, verifier=w.people["ver"])


def _submit(w: World) -> Maker:
    pid = w.draft(**spot())
    w.run(nominate(w, pid))
    return lambda who: c.SubmitPermit(actor=anyone(w), permit_id=pid, signature=sig(w, pid))


def _withdraw(w: World) -> Maker:
    pid = w.submitted(**spot())
    return lambda who: c.WithdrawPermit(actor=anyone(w), permit_id=pid, reason="not yet")


def _resubmit(w: World) -> Maker:
    pid = w.submitted(**spot())
    w.run(c.RejectPermit(actor=w.actor("ver"), permit_id=pid, reason="incomplete"))
    return lambda who: c.ResubmitPermit(actor=anyone(w), permit_id=pid, signature=sig(w, pid))


def _verify(w: World) -> Maker:
    pid = w.submitted(**spot())
    return lambda who: c.VerifyPermit(
        actor=anyone(w), permit_id=pid, approvers=(w.people["app"], w.people["app2"]), signature=sig(w, pid)
    )


def _reject_submitted(w: World) -> Maker:
    pid = w.submitted(**spot())
    return lambda who: c.RejectPermit(actor=anyone(w), permit_id=pid, reason="incomplete")


def _nominate_approvers(w: World) -> Maker:
    pid = w.under_review(**spot())
    return lambda who: c.NominateApprovers(actor=anyone(w), permit_id=pid, approvers=(w.people["app2"],))


def _approve(w: World) -> Maker:
    pid = w.under_review(**spot())
    return lambda who: c.ApprovePermit(actor=anyone(w), permit_id=pid, signature=sig(w, pid))


def _reject_under_review(w: World) -> Maker:
    pid = w.under_review(**spot())
    return lambda who: c.RejectPermit(actor=anyone(w), permit_id=pid, reason="controls are thin")


def _send_back(w: World) -> Maker:
    pid = w.under_review(**spot())
    return lambda who: c.SendBackPermit(actor=anyone(w), permit_id=pid, reason="check the controls")


def _activate(w: World) -> Maker:
    pid = w.approved(**spot())
    w.prepare_crew(pid)
    w.clock.advance(timedelta(minutes=30))
    return lambda who: issue(c.ActivatePermit, w, pid, who)


def _resume(w: World) -> Maker:
    pid = w.active(**spot())
    w.run(
        c.SuspendPermit(
            actor=w.actor("safe"), permit_id=pid, reason_code=SuspensionReason.MANUAL, text="gas alarm"
        )
    )
    w.clock.advance(timedelta(minutes=10))
    w.brief(pid)
    return lambda who: issue(c.ResumePermit, w, pid, who)


def _request_extension(w: World) -> Maker:
    pid = w.active(**spot())
    end = w.permit(pid).valid_until
    assert end is not None
    return lambda who: c.RequestExtension(
        actor=anyone(w),
        permit_id=pid,
        extension_id=uuid.uuid4(),
        requested_end=end + timedelta(hours=2),
        reason="more",
    )


def _decide_extension(w: World) -> Maker:
    pid = w.active(**spot())
    end = w.permit(pid).valid_until
    assert end is not None
    extension = uuid.uuid4()
    w.run(
        c.RequestExtension(
            actor=w.actor("req"),
            permit_id=pid,
            extension_id=extension,
            requested_end=end + timedelta(hours=2),
            reason="more welding",
        )
    )
    return lambda who: c.DecideExtension(
        actor=anyone(w),
        permit_id=pid,
        extension_id=extension,
        approve=True,
        reassessment_confirmed=True,
        signature=sig(w, pid),
    )


def _complete(w: World) -> Maker:
    pid = w.active(**spot())
    w.clock.advance(timedelta(hours=1))
    return lambda who: c.CompletePermit(
        actor=anyone(w),
        permit_id=pid,
        outcome=HandBackOutcome.COMPLETE,
        site_safe=True,
        signature=sig(w, pid),
    )


def _suspend(w: World) -> Maker:
    pid = w.active(**spot())
    return lambda who: c.SuspendPermit(
        actor=anyone(w), permit_id=pid, reason_code=SuspensionReason.MANUAL, text="stop: unsafe act"
    )


def _close(w: World) -> Maker:
    pid = ready_to_close(w)
    return lambda who: c.ClosePermit(
        actor=anyone(w), permit_id=pid, inspected_at=w.clock.now(), signature=sig(w, pid)
    )


def _cancel(w: World) -> Maker:
    pid = w.draft(**spot())
    return lambda who: c.CancelPermit(actor=anyone(w), permit_id=pid, reason="not needed")


def _record_gas(w: World) -> Maker:
    pid = w.under_review(**spot())
    return lambda who: reading(w, pid)


def _void_gas(w: World) -> Maker:
    pid = w.under_review(**spot())
    rid = uuid.uuid4()
    w.run(reading(w, pid, rid))
    return lambda who: gc.VoidGasReading(actor=anyone(w), permit_id=pid, reading_id=rid, reason="wrong unit")


def _resolve_conflict(w: World) -> Maker:
    place = spot()
    w.submitted(template="cold-work", **place)
    newer = w.submitted(template="cold-work", **place)
    (cid,) = [
        x.facts["conflict_id"]
        for x in w.service.readiness(newer).actions[Action.APPROVE].warnings
        if x.rule == "SIM-06"
    ]
    return lambda who: sc.ResolveConflict(
        actor=anyone(w), conflict_id=uuid.UUID(str(cid)), decision="accept_with_controls", controls="barriers"
    )


def _assign_point(w: World) -> Maker:
    pid = w.draft(**spot())
    code = f"V-{next(_spots)}"
    w.register_point(code)
    point = point_id_for(w.project_id, code)
    return lambda who: ic.AssignIsolationPoint(actor=anyone(w), permit_id=pid, point_id=point)


def _unassign_point(w: World) -> Maker:
    pid = w.draft(**spot())
    point = w.assign_point(pid)
    return lambda who: ic.UnassignIsolationPoint(actor=anyone(w), permit_id=pid, point_id=point)


def _isolate(w: World) -> Maker:
    pid = w.under_review(**spot())
    w.assign_point(pid)
    iid = isolation_of(w, pid)
    return lambda who: ic.IsolatePoint(
        actor=anyone(w),
        isolation_id=iid,
        lock_ids=(f"L-{next(_spots)}",),
        tag="DANGER DO NOT OPERATE",
        method="closed, locked, tagged",
        achieved_category="I",
        isolated_at=w.clock.now(),
        isolator_worker_id=w.workers["iso"],
    )


def _verify_isolation(w: World) -> Maker:
    pid = w.under_review(**spot())
    w.assign_point(pid)
    iid = isolation_of(w, pid)
    isolate(w, iid)
    return lambda who: ic.VerifyIsolation(
        actor=anyone(w), isolation_id=iid, method="bleed_and_vent", passed=True, verified_at=w.clock.now()
    )


def _deisolate(w: World) -> Maker:
    pid = w.under_review(**spot())
    w.assign_point(pid)
    iid = isolation_of(w, pid)
    isolate(w, iid)
    w.run(c.CancelPermit(actor=w.actor("req"), permit_id=pid, reason="called off"))
    return lambda who: ic.DeisolatePoint(actor=anyone(w), isolation_id=iid)


def _transfer(w: World) -> Maker:
    pid = w.under_review(**spot())
    w.assign_point(pid)
    iid = isolation_of(w, pid)
    isolate(w, iid)
    return lambda who: ic.TransferIsolationToOperations(
        actor=anyone(w), isolation_id=iid, reason="left in place"
    )


def _lock_exception(w: World) -> Maker:
    pid, lock = locked(w, fresh_crew(w))
    return lambda who: lock_exception(w, pid, lock, actor=anyone(w))


def _isolation_lock_exception(w: World) -> Maker:
    pid = w.under_review(**spot())
    w.assign_point(pid)
    iid = isolation_of(w, pid)
    isolate(w, iid)
    [lock] = next(e.payload.lock_ids for e in w.service.store.events.get(iid) if e.type == "PointIsolated")
    return lambda who: ic.RecordIsolationLockException(
        actor=anyone(w), isolation_id=iid, lock_id=lock, **absence_facts(w)
    )


def _apply_inhibit(w: World) -> Maker:
    pid = w.approved(**spot())
    return lambda who: cc.ApplyInhibit(
        actor=anyone(w),
        permit_id=pid,
        inhibit_id=uuid.uuid4(),
        system="F&G",
        tag="FD-101",
        reason="hot work",
        expected_restore_at=w.clock.now() + timedelta(hours=4),
    )


def _restore_inhibit(w: World) -> Maker:
    pid = w.approved(**spot())
    inhibit = uuid.uuid4()
    w.run(
        cc.ApplyInhibit(
            actor=w.actor("area"),
            permit_id=pid,
            inhibit_id=inhibit,
            system="F&G",
            tag="FD-101",
            reason="hot work",
            expected_restore_at=w.clock.now() + timedelta(hours=4),
        )
    )
    return lambda who: cc.RestoreInhibit(
        actor=anyone(w), permit_id=pid, inhibit_id=inhibit, confirmed_by="safe"
    )


def _apply_lock(w: World) -> Built:
    crew = fresh_crew(w)
    pid = active_with_point(w, crew)
    return Built(
        lambda who: ic.ApplyPersonalLock(
            actor=anyone(w), permit_id=pid, lock_id=f"PL-{next(_spots)}", worker_id=w.workers[crew]
        ),
        {WRK: crew},
    )


def _remove_lock(w: World) -> Built:
    crew = fresh_crew(w)
    pid, lock = locked(w, crew)
    return Built(lambda who: ic.RemovePersonalLock(actor=anyone(w), permit_id=pid, lock_id=lock), {WRK: crew})


def _attend(w: World) -> Maker:
    pid = w.draft(**spot())
    w.run(
        pc.AssignWorker(
            actor=w.actor("req"), permit_id=pid, worker_id=w.workers["crew1"], permit_roles=(PermitRole.CREW,)
        )
    )
    tbt = uuid.uuid4()
    w.run(
        pc.HoldToolboxTalk(
            actor=w.actor("safe"), permit_id=pid, tbt_id=tbt, held_at=w.clock.now(), topics=("hazards",)
        )
    )
    return lambda who: pc.AttendToolboxTalk(
        actor=anyone(w), permit_id=pid, tbt_id=tbt, worker_id=w.workers["crew1"]
    )


def _assign_worker(w: World) -> Maker:
    pid = w.draft(**spot())
    return lambda who: pc.AssignWorker(
        actor=anyone(w), permit_id=pid, worker_id=w.workers["crew1"], permit_roles=(PermitRole.CREW,)
    )


def _hold_briefing(w: World) -> Maker:
    pid = w.draft(**spot())
    return lambda who: pc.HoldToolboxTalk(
        actor=anyone(w), permit_id=pid, tbt_id=uuid.uuid4(), held_at=w.clock.now(), topics=("hazards",)
    )


CLOSING = {
    "key": "closing",
    "category": "hot_work",
    "name": "Hot work with a close-out checklist",
    "safety_checklist": ["Combustibles removed"],
    "closeout_checklists": {"any": ["Area clean"]},
}


def _closeout_item(uncheck: bool) -> Callable[[World], Maker]:
    def build(w: World) -> Maker:
        pid = w.completed(template="closing", checklist_answers={"combustibles_removed": True}, **spot())
        (item,) = [i.key for i in w.permit(pid).closeout.checklist]
        if uncheck:
            w.run(cc.CheckCloseoutItem(actor=w.actor("app"), permit_id=pid, key=item))
            return lambda who: cc.UncheckCloseoutItem(actor=anyone(w), permit_id=pid, key=item)
        return lambda who: cc.CheckCloseoutItem(actor=anyone(w), permit_id=pid, key=item)

    return build


def _complete_fire_watch(w: World) -> Maker:
    pid = w.completed(**spot())
    w.clock.advance(timedelta(minutes=45))
    return lambda who: pc.CompleteFireWatch(actor=anyone(w), permit_id=pid)


def _add_attachment(w: World) -> Maker:
    pid = w.draft(**spot())
    return lambda who: rc.AddAttachment(
        actor=anyone(w),
        permit_id=pid,
        uri="https://docs.example/method-statement.pdf",
        sha256="ab" * 32,
        media_type="application/pdf",
        size=1024,
    )


def _annotate(w: World) -> Maker:
    pid = w.draft(**spot())
    w.run(c.CancelPermit(actor=w.actor("req"), permit_id=pid))
    return lambda who: rc.AnnotatePermit(actor=anyone(w), permit_id=pid, text="Raised in error")


def _link_incident(w: World) -> Maker:
    pid = w.draft(**spot())
    return lambda who: rc.LinkIncident(actor=anyone(w), permit_id=pid, incident_ref="INC-7")


def _delegate(w: World) -> Maker:
    delegable = {Role.VERIFIER, Role.APPROVER, Role.AREA_AUTHORITY}

    def make(who: str) -> c.Command:
        # the caller's own delegable role; a caller without one offers an approver's task (DEL-01)
        (role,) = w.people[who].roles & delegable or {Role.APPROVER}
        delegate = Member(
            person_id=f"deputy-{role.value}",
            roles=frozenset({role}),
            authority_level=3,
            company_kind=CompanyKind.OWNER,
        )
        return c.GrantDelegation(
            actor=anyone(w),
            delegation_id=uuid.uuid4(),
            project_id=w.project_id,
            delegate=delegate,
            role=role.value,
            valid_until=w.clock.now() + timedelta(days=1),
        )

    return make


def _settings(w: World) -> Maker:
    return lambda who: c.ChangeProjectSettings(
        actor=anyone(w), project_id=w.project_id, settings=ProjectSettings()
    )


def _override(w: World) -> Maker:
    return lambda who: c.PublishTemplateOverride(
        actor=anyone(w),
        project_id=w.project_id,
        template_key="cold-work",
        patch={"name": "Cold work (north)"},
    )


def _withdraw_override(w: World) -> Maker:
    w.run(
        c.PublishTemplateOverride(
            actor=w.actor("admin"),
            project_id=w.project_id,
            template_key="cold-work",
            patch={"name": "Cold (n)"},
        )
    )
    return lambda who: c.WithdrawTemplateOverride(
        actor=anyone(w), project_id=w.project_id, template_key="cold-work"
    )


def _zone_map(w: World) -> Maker:
    return lambda who: sc.PublishZoneMap(
        actor=anyone(w), project_id=w.project_id, adjacency={f"Z-{next(_spots)}": ("Z-0",)}
    )


def _matrix(w: World) -> Maker:
    return lambda who: sc.PublishSimopsMatrix(
        actor=anyone(w), project_id=w.project_id, entries=DEFAULT_MATRIX.entries
    )


def _point_spec(code: str) -> Any:
    from ptw_domain.events.isolation import PointSpec

    return PointSpec(
        point_code=code,
        point_type="valve",
        energy_type="process_fluid",
        area="A1",
        verification_method="bleed_and_vent",
        achievable_category="I",
    )


def _register_point(w: World) -> Maker:
    return lambda who: ic.RegisterIsolationPoint(
        actor=anyone(w), project_id=w.project_id, spec=_point_spec(f"R-{next(_spots)}")
    )


def _revise_point(w: World) -> Maker:
    code = f"R-{next(_spots)}"
    point = w.register_point(code)
    return lambda who: ic.ReviseIsolationPoint(actor=anyone(w), point_id=point, spec=_point_spec(code))


def _deactivate_point(w: World) -> Maker:
    point = w.register_point(f"R-{next(_spots)}")
    return lambda who: ic.DeactivateIsolationPoint(actor=anyone(w), point_id=point)


def _record_competency(w: World) -> Maker:
    return lambda who: pc.RecordCompetency(
        actor=anyone(w),
        worker_id=w.workers["crew1"],
        competency_id=uuid.uuid4(),
        code="working_at_height",
        valid_from=w.clock.now() - timedelta(days=1),
        valid_until=w.clock.now() + timedelta(days=300),
        issuer="Training Ltd",
        evidence_uri="https://records.example/crew1/wah",
        evidence_sha256="0" * 64,
    )


def _revoke_competency(w: World) -> Maker:
    competency = uuid.uuid4()
    w.run(
        pc.RecordCompetency(
            actor=w.actor("admin"),
            worker_id=w.workers["crew1"],
            competency_id=competency,
            code="rigging",
            valid_from=w.clock.now() - timedelta(days=1),
            valid_until=w.clock.now() + timedelta(days=300),
            issuer="Training Ltd",
            evidence_uri="https://records.example/crew1/rig",
            evidence_sha256="0" * 64,
        )
    )
    return lambda who: pc.RevokeCompetency(
        actor=anyone(w), worker_id=w.workers["crew1"], competency_id=competency, reason="expired card"
    )


REQ, VER, APP, AREA, ISO, GAS, FW, SAFE, WRK, ADM, AUD, INT = COLUMNS
OWN = "edit, amend, nominate verifier, submit, withdraw, resubmit"
ISSUER = "activate / resume as issuer; decide extension"
PA = "activate / resume as acceptor; request extension; hand back"
SELF = "own personal lock, attend briefing, enter or exit"
PLAN = "assign workers, hold briefing, close-out items"
CONFIG = "project settings, overrides, zone map, matrix, point library"
CASES = [
    Case("CreatePermit", "create draft", "Y · · · · · · · · · · Y", _create),
    Case("EditPermit", OWN, "P · · · · · · · · · · ·", _edit, {REQ: "req"}),
    Case("AmendPermit", OWN, "P · · · · · · · · · · ·", _amend, {REQ: "req"}),
    # DEL-04: a project admin may reassign a nomination directly
    Case("NominateVerifier", OWN, "P · · · · · · · · Y · ·", _nominate_verifier, {REQ: "req"}),
    Case("SubmitPermit", OWN, "P · · · · · · · · · · ·", _submit, {REQ: "req"}),
    Case("WithdrawPermit", OWN, "P · · · · · · · · · · ·", _withdraw, {REQ: "req"}),
    Case("ResubmitPermit", OWN, "P · · · · · · · · · · ·", _resubmit, {REQ: "req"}),
    Case(
        "VerifyPermit",
        "verify, reject at verification, nominate approvers",
        "· P · · · · · · · · · ·",
        _verify,
        {VER: "ver"},
    ),
    Case(
        "RejectPermit@submitted",
        "verify, reject at verification, nominate approvers",
        "· P · · · · · · · · · ·",
        _reject_submitted,
        {VER: "ver"},
    ),
    Case(
        "NominateApprovers",
        "verify, reject at verification, nominate approvers",
        "· P · · · · · · · Y · ·",
        _nominate_approvers,
        {VER: "ver"},
    ),
    Case(
        "ApprovePermit",
        "approve, reject, send back",
        "· · P · · · · · · · · ·",
        _approve,
        {APP: "app"},
    ),
    Case(
        "RejectPermit@under_review",
        "approve, reject, send back",
        "· · P · · · · · · · · ·",
        _reject_under_review,
        {APP: "app"},
    ),
    Case("SendBackPermit", "approve, reject, send back", "· · P · · · · · · · · ·", _send_back, {APP: "app"}),
    Case("ActivatePermit", ISSUER, "· · Y · · · · · · · · ·", _activate),
    Case("ResumePermit", ISSUER, "· · Y · · · · · · · · ·", _resume),
    Case("DecideExtension", ISSUER, "· · Y · · · · · · · · ·", _decide_extension),
    Case("RequestExtension", PA, "P · · · · · · · · · · ·", _request_extension, {REQ: "req"}),
    Case("CompletePermit", PA, "P · · · · · · · · · · ·", _complete, {REQ: "req"}),
    Case(
        "SuspendPermit",
        "suspend (stop work)",
        "P Y Y Y Y Y P Y P Y · ·",
        _suspend,
        {REQ: "req", FW: "watch", WRK: "crew1"},
    ),
    Case("ClosePermit", "close", "· · Y Y · · · · · · · ·", _close),
    Case("CancelPermit", "cancel", "P · Y Y · · · · · Y · ·", _cancel, {REQ: "req"}),
    Case(
        "RecordGasReading",
        "record gas reading, void own reading",
        "· · · · · Y · · · · · ·",
        _record_gas,
        actors={GAS: "tester"},
    ),
    Case(
        "VoidGasReading",
        "void own / void any gas reading",
        "· · · Y · P · Y · · · ·",
        _void_gas,
        {GAS: "tester"},
    ),
    Case(
        "ResolveConflict",
        "void any gas reading, resolve SIMOPS conflict, annotate",
        "· · · Y · · · Y · · · ·",
        _resolve_conflict,
    ),
    Case(
        "AssignIsolationPoint",
        "assign isolation points",
        "P · · · Y · · · · · · ·",
        _assign_point,
        {REQ: "req"},
    ),
    Case(
        "UnassignIsolationPoint",
        "assign isolation points",
        "P · · · Y · · · · · · ·",
        _unassign_point,
        {REQ: "req"},
    ),
    Case(
        "IsolatePoint",
        "isolate, de-isolate, verify isolation",
        "· · · · Y · · · · · · ·",
        _isolate,
        actors={ISO: "iso"},
    ),
    Case(
        "VerifyIsolation",
        "isolate, de-isolate, verify isolation",
        "P · · · Y · · · · · · ·",
        _verify_isolation,
        {REQ: "req"},
    ),
    Case("DeisolatePoint", "isolate, de-isolate, verify isolation", "· · · · Y · · · · · · ·", _deisolate),
    Case("RecordLockRemovalException", "lock-removal exception", "· · · · Y · · · · Y · ·", _lock_exception),
    Case(
        "RecordIsolationLockException",
        "lock-removal exception",
        "· · · · Y · · · · Y · ·",
        _isolation_lock_exception,
    ),
    Case(
        "TransferIsolationToOperations",
        "transfer isolation to operations, apply or restore inhibit",
        "· · · Y Y · · · · · · ·",
        _transfer,
        deviations={
            (
                ISO,
                "Y",
            ): "spec conflict: SEC-04 lets an isolating authority transfer an isolation to operations, "
            "ISO-14 (which the domain follows) only an area authority"
        },
    ),
    Case(
        "ApplyInhibit",
        "transfer isolation to operations, apply or restore inhibit",
        "· · · Y Y · · · · · · ·",
        _apply_inhibit,
    ),
    Case(
        "RestoreInhibit",
        "transfer isolation to operations, apply or restore inhibit",
        "· · · Y Y · · · · · · ·",
        _restore_inhibit,
    ),
    Case("ApplyPersonalLock", SELF, "· · · · · · · · P · · ·", _apply_lock),
    Case("RemovePersonalLock", SELF, "· · · · · · · · P · · ·", _remove_lock),
    Case("AttendToolboxTalk", SELF, "· · · · · · · · P · · ·", _attend, {WRK: "crew1"}),
    Case("AssignWorker", PLAN, "P · Y · · · · · · · · ·", _assign_worker, {REQ: "req"}),
    Case("HoldToolboxTalk", PLAN, "P · Y · · · · Y · · · ·", _hold_briefing, {REQ: "req"}),
    Case("CheckCloseoutItem", PLAN, "P · Y Y · · · · · · · ·", _closeout_item(uncheck=False), {REQ: "req"}),
    Case("UncheckCloseoutItem", PLAN, "P · Y Y · · · · · · · ·", _closeout_item(uncheck=True), {REQ: "req"}),
    Case(
        "CompleteFireWatch",
        "complete fire watch",
        "· · · · · · P · · · · ·",
        _complete_fire_watch,
        {FW: "watch"},
    ),
    # not a row of SEC-04: our rule (docs/domain/lifecycle.md), the integration refused by ROLE-07
    Case("AddAttachment", "add attachment", "P · Y Y Y Y · Y · · · ·", _add_attachment, {REQ: "req"}),
    Case(
        "AnnotatePermit",
        "void any gas reading, resolve SIMOPS conflict, annotate",
        "· · · Y · · · Y · · · ·",
        _annotate,
    ),
    Case("LinkIncident", "link incident", "· · · · · · · Y · · · Y", _link_incident),
    Case(
        "GrantDelegation",
        "delegate own task",
        "· Y Y Y · · · · · Y · ·",
        _delegate,
        deviations={
            (
                ADM,
                "Y",
            ): "domain deviation: DEL-01 delegates only verifier, approver and area authority tasks, so a "
            "project admin holding none of them is refused 403; an admin reassigns nominations directly (DEL-04)"
        },
    ),
    Case("ChangeProjectSettings", CONFIG, "· · · · · · · · · Y · ·", _settings),
    Case("PublishTemplateOverride", CONFIG, "· · · · · · · · · Y · ·", _override),
    Case("WithdrawTemplateOverride", CONFIG, "· · · · · · · · · Y · ·", _withdraw_override),
    Case("PublishZoneMap", CONFIG, "· · · · · · · · · Y · ·", _zone_map),
    Case("PublishSimopsMatrix", CONFIG, "· · · · · · · Y · Y · ·", _matrix),
    Case("RegisterIsolationPoint", CONFIG, "· · · · Y · · · · Y · ·", _register_point),
    Case("ReviseIsolationPoint", CONFIG, "· · · · Y · · · · Y · ·", _revise_point),
    Case("DeactivateIsolationPoint", CONFIG, "· · · · Y · · · · Y · ·", _deactivate_point),
    Case("RecordCompetency", "competencies", "· · · · · · · Y · Y · ·", _record_competency),
    Case("RevokeCompetency", "competencies", "· · · · · · · Y · Y · ·", _revoke_competency),
]


def _cells() -> Iterator[Any]:
    """Every cell of every case; a case's refusal cells first, so they share one state before time moves."""
    for case in CASES:
        cells = [
            (role, kind)
            for role in COLUMNS
            for kind in (("party", "other") if case.cell(role) == "P" else (case.cell(role),))
        ]
        cells.sort(key=lambda cell: cell[1] not in ("·", "other"))
        for role, kind in cells:
            why = case.deviations.get((role, kind))
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            yield pytest.param(case, role, kind, id=f"{case.name}-{role.value}-{kind}", marks=marks)


# --- the app ----------------------------------------------------------------------------------------------


@contextmanager
def _app(url: str) -> Iterator[Env]:
    with open_env(url) as opened:
        _personas(opened.world)
        opened.world.publish_template(CLOSING)
        yield opened


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with _app(f"sqlite:///{tmp_path_factory.mktemp('permissions') / 'ptw.db'}") as opened:
        yield opened


@pytest.fixture(scope="module")
def pg_env(postgres_dsn: str) -> Iterator[Env]:
    import psycopg

    schema = f"ptw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with _app(f"{postgres_dsn}?schema={schema}") as opened:
            yield opened
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')


# A refusal records nothing, so the refusal cells of a case share one built state (per app), while the clock
# stands still (time facts, e.g. a missed handover, would change it).
_refusal_states: dict[tuple[int, str], tuple[Any, Built]] = {}


def _build(case: Case, world: World, *, fresh: bool) -> Built:
    key = (id(world), case.name)
    if not fresh and key in _refusal_states and _refusal_states[key][0] == world.clock.now():
        return _refusal_states[key][1]
    made = case.build(world)
    built = made if isinstance(made, Built) else Built(made, case.parties)
    if not fresh:
        _refusal_states[key] = (world.clock.now(), built)
    return built


def check_cell(env: Env, case: Case, role: Role, kind: str) -> None:
    refusal = kind in ("·", "other")
    built = _build(case, env.world, fresh=not refusal)
    if kind == "party":
        who = built.parties[role]
    elif kind == "Y":
        who = case.actors.get(role, persona(role))
    else:
        who = persona(role)
    token = env.token(who, roles=None if kind == "party" else frozenset({role}))
    head = env.head()
    answer = env.send(token, built.make(who))
    if refusal and answer.status_code < 300:  # it changed the shared state: the next refusal cell builds anew
        _refusal_states.pop((id(env.world), case.name), None)
    if refusal:
        body = assert_problem(answer, 403, "forbidden")
        assert body["rule_ids"], body
        assert env.head() == head, "a refused command records nothing"
    else:
        assert answer.status_code not in NOT_REACHED, (who, answer.status_code, answer.text)


@pytest.mark.parametrize(("case", "role", "kind"), list(_cells()))
def test_SEC_04_command_cell(env: Env, case: Case, role: Role, kind: str) -> None:
    """SEC-04/SEC-05: the role's answer for one action is the table's cell: `·` 403 forbidden, `Y` not refused
    for the role, `P` allowed for the named party only."""
    check_cell(env, case, role, kind)


# PostgreSQL: the same cells for a slice of rows (create, the approver's party, stop work, gas, configuration).
PG_SLICE = ("CreatePermit", "ApprovePermit", "SuspendPermit", "RecordGasReading", "ChangeProjectSettings")


@pytest.mark.postgres
@pytest.mark.parametrize(("case", "role", "kind"), [p for p in _cells() if p.values[0].name in PG_SLICE])
def test_SEC_04_command_cell_on_postgres(pg_env: Env, case: Case, role: Role, kind: str) -> None:
    """SEC-04/SEC-05 on PostgreSQL, for a slice of the table."""
    check_cell(pg_env, case, role, kind)


# --- reads ------------------------------------------------------------------------------------------------

EVERYONE = frozenset(COLUMNS)
AUDIT = frozenset({AREA, SAFE, ADM, AUD})  # "audit trail, chain verification, audit export"
REPORTS = frozenset({APP, AREA, SAFE, ADM, AUD})  # "compliance reports, Excel and bulk exports"
READS: dict[str, tuple[str, dict[str, Any], frozenset[Role]]] = {
    "listPermits": ("/permits", {}, EVERYONE),
    "getPermit": ("/permits/{pid}", {}, EVERYONE),
    "getPermitAt": ("/permits/{pid}/at", {"version": 1}, EVERYONE),
    "getReadiness": ("/permits/{pid}/readiness", {"as_me": "true"}, EVERYONE),
    "myTasks": ("/tasks", {}, EVERYONE),
    "isolationRegister": ("/registers/isolations", {}, EVERYONE),
    "lockRegister": ("/registers/locks", {}, EVERYONE),
    "conflictRegister": ("/registers/conflicts", {}, EVERYONE),
    "getKpis": ("/kpis", {}, EVERYONE),
    "getBoardAt": ("/board", {}, EVERYONE),
    "getComplianceSummary": ("/reports/compliance-summary", {}, REPORTS),
    "getComplianceExceptions": ("/reports/compliance-exceptions", {}, REPORTS),
    "getAuditTrail": ("/audit-trail", {}, AUDIT),
    "verifyChain": ("/audit/verification", {"permit": "{pid}"}, AUDIT),
}


def test_SEC_04_every_permit_read_has_a_row() -> None:
    """SEC-04: each query endpoint is placed in a read row here, so a new one cannot go unchecked."""
    from ptw_api.http.query_routes import query_handlers

    assert {h.operation_id for h in query_handlers()} == set(READS)


@pytest.fixture(scope="module")
def read_permit(env: Env) -> uuid.UUID:
    return env.world.submitted(**spot())


@pytest.mark.parametrize("role", COLUMNS, ids=[r.value for r in COLUMNS])
@pytest.mark.parametrize("operation", list(READS))
def test_SEC_04_read_rows(env: Env, read_permit: uuid.UUID, operation: str, role: Role) -> None:
    """SEC-04 read rows: permits, readiness, board, registers and KPIs for every role; the audit trail and chain
    verification for AREA/SAFE/ADM/AUD; compliance reports for APP/AREA/SAFE/ADM/AUD; anyone else 403."""
    path, params, readers = READS[operation]
    token = env.token(persona(role), roles=frozenset({role}))
    given = {k: str(v).replace("{pid}", str(read_permit)) for k, v in params.items()}
    # the permit was recorded through the service, not this caller: wait for the read models to reach it (RM-08)
    head = str(env.client.app.state.runtime.head())
    answer = env.client.get(
        f"/api/v1/projects/{env.world.project_id}{path.replace('{pid}', str(read_permit))}",
        params=given,
        headers=env.headers(token) | {"X-PTW-Min-Position": head},
    )
    if role in readers:
        assert answer.status_code == 200, answer.text
    else:
        body = assert_problem(answer, 403, "forbidden")
        assert body["rule_ids"] == ["SEC-04"], body


# --- organisation settings: the org_admin claim, not a project role -----------------------------------------

_policy_versions: dict[int, int] = {}


def _org_command(env: Env, name: str) -> c.Command:
    w, n = env.world, next(_spots)
    org = w.organisation_id
    if name == "OpenProject":
        return c.OpenProject(
            actor=anyone(w), project_id=uuid.uuid4(), organisation_id=org, code=f"P{n}", title="P"
        )
    if name == "PublishTemplateVersion":
        definition = {"key": f"t-{n}", "category": "cold_work", "name": "Another"}
        return c.PublishTemplateVersion(actor=anyone(w), organisation_id=org, definition=definition)
    if name == "RetireTemplate":
        w.publish_template({"key": f"old-{n}", "category": "cold_work", "name": "Old"})
        return c.RetireTemplate(actor=anyone(w), organisation_id=org, key=f"old-{n}")
    if name == "PublishRolePolicy":
        version = _policy_versions.get(id(w), 0) + 1
        return c.PublishRolePolicy(
            actor=anyone(w),
            organisation_id=org,
            policy=msgspec.structs.replace(DEFAULT_ROLE_POLICY, version=version),
        )
    assert name == "PublishGasLimitProfile", f"{name}: a new organisation setting needs a body here"
    profile = msgspec.structs.replace(OSHA_DEFAULT, key=f"site-{n}", version=1)
    return gc.PublishGasLimitProfile(actor=anyone(w), organisation_id=org, profile=profile)


ORG_ROUTES = [r.command.__name__ for r in ROUTES if r.organisation]


@pytest.mark.parametrize("role", COLUMNS, ids=[r.value for r in COLUMNS])
@pytest.mark.parametrize("name", ORG_ROUTES)
def test_SEC_04_organisation_settings_need_the_org_admin_claim(env: Env, name: str, role: Role) -> None:
    """SEC-04: templates, role policy, gas profiles and opening projects need `org_admin`; no project role, the
    project admin's included, stands in for it."""
    command = _org_command(env, name)
    head = env.head()
    answer = env.send(env.token(persona(role), roles=frozenset({role})), command)
    body = assert_problem(answer, 403, "forbidden")
    assert "SEC-04" in body["rule_ids"], body
    assert env.head() == head


@pytest.mark.parametrize("role", [REQ, ADM], ids=["requestor", "project_admin"])
@pytest.mark.parametrize("name", ORG_ROUTES)
def test_SEC_04_an_org_admin_changes_organisation_settings_whatever_their_project_roles(
    env: Env, name: str, role: Role
) -> None:
    """SEC-04: with the `org_admin` claim the organisation settings are accepted."""
    command = _org_command(env, name)
    answer = env.send(env.token(persona(role), roles=frozenset({role}), org_admin=True), command)
    assert answer.status_code in (200, 201), answer.text
    if name == "PublishRolePolicy":
        _policy_versions[id(env.world)] = _policy_versions.get(id(env.world), 0) + 1


# --- ROLE-07, ROLE-08, TEN-04 -----------------------------------------------------------------------------


def test_ROLE_07_a_service_principal_never_signs_even_holding_the_role(env: Env) -> None:
    """ROLE-07: the nominated approver's identity as a service token (kind `service`, with the write scope of
    SEC-02) cannot approve; the same person's user token can."""
    w = env.world
    pid = w.under_review(**spot())
    grant = {w.project_id: grant_of(w.people["app"])}
    service = mint_token(
        env.settings,
        subject="app",
        projects=grant,
        organisation=w.organisation_id,
        kind=ActorKind.SERVICE,
        scopes=("ptw:read", "ptw:write"),
    )
    command = c.ApprovePermit(actor=anyone(w), permit_id=pid, signature=sig(w, pid))
    body = assert_problem(env.send(service, command), 403, "forbidden")
    assert body["rule_ids"] == ["ROLE-07"], body
    assert w.permit(pid).status == "under_review"
    assert env.send(env.token("app"), command).status_code == 200
    assert w.permit(pid).status == "approved"


def test_ROLE_07_an_integration_principal_records_no_safety_facts(env: Env) -> None:
    """ROLE-07: a gas tester's own reading sent with an integration role added is refused."""
    w = env.world
    pid = w.under_review(**spot())
    token = env.token("tester", roles=frozenset({Role.GAS_TESTER, Role.INTEGRATION}))
    body = assert_problem(env.send(token, reading(w, pid)), 403, "forbidden")
    assert "ROLE-07" in body["rule_ids"], body
    assert env.send(env.token("tester"), reading(w, pid)).status_code == 201


def test_ROLE_08_roles_come_from_the_token_at_request_time(env: Env) -> None:
    """ROLE-08: the same person answers differently with a different token: roles decide reads and commands."""
    w = env.world
    as_safety = env.token("safe", roles=frozenset({Role.SAFETY_OFFICER}))
    as_requestor = env.token("safe", roles=frozenset({Role.REQUESTOR}))
    assert env.get(as_safety, "/audit-trail").status_code == 200
    assert_problem(env.get(as_requestor, "/audit-trail"), 403, "forbidden")
    pid = w.draft(**spot())
    cancel = c.CancelPermit(actor=anyone(w), permit_id=pid, reason="not needed")
    assert_problem(env.send(env.token("app", roles=frozenset({Role.REQUESTOR})), cancel), 403, "forbidden")
    assert env.send(env.token("app", roles=frozenset({Role.APPROVER})), cancel).status_code == 200


def test_ROLE_08_the_authority_level_comes_from_the_token(env: Env) -> None:
    """ROLE-08/ROLE-04: the nominated approver whose token says level 1 is refused approval of a medium-risk
    permit (409 citing ROLE-04); their level-3 token approves it."""
    w = env.world
    pid = w.under_review(**spot())
    low = {w.project_id: msgspec.structs.replace(grant_of(w.people["app"]), authority_level=1)}
    command = c.ApprovePermit(actor=anyone(w), permit_id=pid, signature=sig(w, pid))
    token = mint_token(env.settings, subject="app", projects=low, organisation=w.organisation_id)
    body = assert_problem(env.send(token, command), 409, "guard_failed")
    assert "ROLE-04" in body["rule_ids"], body
    assert env.send(env.token("app"), command).status_code == 200


def test_TEN_04_roles_granted_for_project_a_do_not_apply_in_project_b(env: Env) -> None:
    """TEN-04: a token with approver in A and requestor in B cannot act as an approver in B — neither approve
    (the nominee!) nor cancel another's draft — and nothing is recorded; the approver grant for B can."""
    a = env.world
    b = a.sibling(f"B{next(_spots)}")
    under_review = b.under_review(**spot())
    draft = b.draft(**spot())
    member = a.people["app"]
    approver, requestor = grant_of(member), ProjectGrant(roles=frozenset({Role.REQUESTOR}), authority_level=3)
    crossed = mint_token(
        env.settings,
        subject="app",
        projects={a.project_id: approver, b.project_id: requestor},
        organisation=a.organisation_id,
    )
    straight = mint_token(
        env.settings,
        subject="app",
        projects={a.project_id: requestor, b.project_id: approver},
        organisation=a.organisation_id,
    )
    approve_b = c.ApprovePermit(actor=anyone(b), permit_id=under_review, signature=sig(b, under_review))
    cancel_b = c.CancelPermit(actor=anyone(b), permit_id=draft, reason="not needed")
    head = env.head()
    refused = env.send(crossed, approve_b, project_id=b.project_id)
    assert (refused.status_code, refused.json()["code"]) in ((403, "forbidden"), (409, "guard_failed")), (
        refused.text
    )
    assert set(refused.json()["rule_ids"]) & {"SEC-04", "ROLE-04"}, refused.text
    assert_problem(env.send(crossed, cancel_b, project_id=b.project_id), 403, "forbidden")
    assert env.head() == head
    assert (b.permit(under_review).status, b.permit(draft).status) == ("under_review", "draft")
    assert env.send(straight, approve_b, project_id=b.project_id).status_code == 200
    assert env.send(straight, cancel_b, project_id=b.project_id).status_code == 200
