"""Stateful property tests of the permit lifecycle (section 4.3, RDY-04, AUD-03/04/07, TIME-04).

A hypothesis state machine runs random commands by random (right and wrong) people against random permits
while the clock jumps by minutes to days and the sweep runs; the people on a permit (section 5: crew, fire
watch, briefings and their attendance, completing the fire watch) and the isolations (section 7: assigning a
project point, isolating, proving, de-isolating) and SIMOPS (section 8: resolving conflicts, publishing the zone
map and the interaction matrix) are part of its vocabulary. Refusals (`DomainError`) are fine; any other
exception fails. After every step: statuses only move along the 4.3 table, replay equals live, every chain
verifies; the conflict streams agree with the SIMOPS register (SIM-09/11); a refused command appended nothing but
the time facts already due (TIME-04); and for the signing actions readiness computed just before agrees with the
command's outcome (RDY-04).
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.errors import (
    DomainError,
    Forbidden,
    ReauthenticationRequired,
    StaleView,
    ValidationFailed,
)
from ptw_domain.events.handover import HandoverRole
from ptw_domain.events.permit import HandBackOutcome, SuspensionReason
from ptw_domain.events.simops import MatrixEntry
from ptw_domain.gas import commands as gc
from ptw_domain.handover import commands as hc
from ptw_domain.handover.shifts import boundaries_between
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation import handling as isolation_handling
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.readiness import Action
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import LIVE, Status
from ptw_domain.records import commands as rc
from ptw_domain.roles import CompanyKind, Role
from ptw_domain.service import PermitService
from ptw_domain.signatures import SignatureInput
from ptw_domain.simops import commands as sc
from ptw_domain.simops.model import DEFAULT_MATRIX, Register, conflicts_of
from ptw_domain.simops.streams import ConflictState, register_id
from ptw_domain.store.streams import fold
from tests import strategies as s
from tests.builders import START, World, scan

S = Status

# Section 4.3: (from, to) -> the events that may make that move (T01-T21; T20 is the expiry).
TRANSITIONS: dict[tuple[Status, Status], frozenset[str]] = {
    (S.DRAFT, S.SUBMITTED): frozenset({"PermitSubmitted"}),  # T05
    (S.DRAFT, S.CANCELLED): frozenset({"PermitCancelled"}),  # T19
    (S.SUBMITTED, S.DRAFT): frozenset({"PermitAmended", "PermitWithdrawn"}),  # T03, T06
    (S.SUBMITTED, S.UNDER_REVIEW): frozenset({"PermitVerified"}),  # T07
    (S.SUBMITTED, S.REJECTED): frozenset({"PermitRejected"}),  # T08
    (S.SUBMITTED, S.CANCELLED): frozenset({"PermitCancelled"}),
    (S.UNDER_REVIEW, S.DRAFT): frozenset({"PermitAmended", "PermitWithdrawn"}),
    (S.UNDER_REVIEW, S.APPROVED): frozenset({"PermitApproved"}),  # T10
    (S.UNDER_REVIEW, S.REJECTED): frozenset({"PermitRejected"}),  # T11
    (S.UNDER_REVIEW, S.SUBMITTED): frozenset({"PermitSentBack"}),  # T12
    (S.UNDER_REVIEW, S.CANCELLED): frozenset({"PermitCancelled"}),
    (S.REJECTED, S.SUBMITTED): frozenset({"PermitSubmitted"}),  # T13
    (S.REJECTED, S.CANCELLED): frozenset({"PermitCancelled"}),
    (S.APPROVED, S.DRAFT): frozenset({"PermitAmended"}),
    (S.APPROVED, S.ACTIVE): frozenset({"PermitActivated"}),  # T14
    (S.APPROVED, S.EXPIRED): frozenset({"PermitExpired"}),  # T20
    (S.APPROVED, S.CANCELLED): frozenset({"PermitCancelled"}),
    (S.ACTIVE, S.SUSPENDED): frozenset({"PermitSuspended"}),  # T15, T21
    (S.ACTIVE, S.COMPLETED): frozenset({"PermitCompleted"}),  # T17
    (S.ACTIVE, S.EXPIRED): frozenset({"PermitExpired"}),
    (S.SUSPENDED, S.ACTIVE): frozenset({"PermitResumed"}),  # T16
    (S.SUSPENDED, S.COMPLETED): frozenset({"PermitCompleted"}),
    (S.SUSPENDED, S.EXPIRED): frozenset({"PermitExpired"}),
    (S.EXPIRED, S.COMPLETED): frozenset({"PermitCompleted"}),
    (S.EXPIRED, S.CANCELLED): frozenset({"PermitCancelled"}),  # only if never activated (LIFE-22)
    (S.COMPLETED, S.CLOSED): frozenset({"PermitClosed"}),  # T18
}
TIME_FACTS = frozenset({"PermitExpired", "ExtensionLapsed", "HandoverMissed", "PermitSuspended"})
TIME_FACT_RULES = frozenset({"LIFE-23", "HOV-03"})  # expiry; a missed shift handover and its suspension
# RDY-06: required-input and authorisation refusals are never readiness blockers.
INPUT_REFUSALS = (StaleView, ReauthenticationRequired, ValidationFailed, Forbidden)

PEOPLE = ("req", "ver", "app", "app2", "area", "safe", "admin")
MAX_PERMITS = 4
# Shift boundaries at noon and midnight: most permits of the walks (from 08:00, up to 12 h) are live at one, so
# handovers, missed handovers (HOV-03) and the resume guard (HOV-04) take part.
SHIFTS = ("12:00", "00:00")
# Guards of activate and resume that the site's preparation satisfies: crew, fire watch and briefing
# (section 5) and a fresh passing gas test (section 6).
PEOPLE_RULES = frozenset({"TBT-03", "TBT-05", "WRK-04", "COMP-04", "CLO-02", "SOD-08"})
GAS_RULES = frozenset({"GAS-08", "GAS-09", "GAS-12"})
# Isolation guards of activate and resume (section 7): the required points isolated and proved.
ISOLATION_RULES = frozenset({"ISO-10", "ISO-08"})
# Points of the project library that the machine assigns to permits (ISO-01).
POINTS = ("V-101", "V-102", "MCC-7")

# Two areas, each with its own equipment, so the zone map decides whether their permits overlap (SIM-02).
AREAS = ("U100", "U200")

people = st.sampled_from(PEOPLE)


def _note(what: str) -> None:
    """Outcome statistics (`--hypothesis-show-statistics`) show how deep the random walks reach."""
    if currently_in_test_context():
        event(what)


templates = st.sampled_from(["hot-work", "cold-work"])


class PermitMachine(RuleBasedStateMachine):
    """Random commands against a PermitService with a ManualClock."""

    database_url = "memory://"

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.service = PermitService(database_url or self.database_url, clock=self.clock)
        self.world = World.create(self.service, self.clock)
        # `req2` can take over as PA at a shift handover (section 4.9)
        self.world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
        self.world.change_settings(shift_boundaries=SHIFTS)
        for code in POINTS:
            self.world.register_point(code)
        self.permits: list[uuid.UUID] = []
        self.outcomes: dict[str, int] = {}

    def teardown(self) -> None:
        self.service.close()

    # --- helpers --------------------------------------------------------------------------------------------

    def actor(self, person: str) -> Any:
        return self.world.actor(person)

    def state(self, pid: uuid.UUID) -> PermitState:
        return self.service.permit(pid)

    def sig(self, pid: uuid.UUID, *, stale: bool = False, reauth: bool = False) -> SignatureInput:
        core = "0" * 64 if stale else self.state(pid).core_hash
        return SignatureInput(core_hash=core, reauthenticated_at=self.clock.now() if reauth else None)

    def acceptance(self, pid: uuid.UUID, *, stale: bool = False) -> c.Acceptance:
        pa = self.state(pid).performing_authority
        return c.Acceptance(
            acceptor=self.world.people.get(pa, self.world.people["req"]),
            signature=self.sig(pid, stale=stale, reauth=True),
        )

    def _versions(self) -> dict[uuid.UUID, int]:
        store = self.service.store
        return {sid: len(store.stored_rows(sid)) for sid in store.stream_ids()}

    def run(
        self,
        pid: uuid.UUID | None,
        make: Callable[[], c.Command],
        *,
        action: Action | None = None,
        person: str | None = None,
    ) -> bool:
        """Execute; check (d) refused-appends-nothing and (e) RDY-04 for the signing actions."""
        command = make()
        before = self._versions()
        allowed: bool | None = None
        if action is not None and pid is not None:
            allowed = self.service.readiness(pid, actor=self.actor(person or "req")).actions[action].allowed
        try:
            self.service.execute(command)
        except DomainError as refusal:
            _note(f"{command.name}: refused {refusal.code}")
            self.outcomes[f"{command.name}:refused"] = self.outcomes.get(f"{command.name}:refused", 0) + 1
            self._check_refusal_appended_nothing(command, before, pid)
            if allowed is not None and not isinstance(refusal, INPUT_REFUSALS):
                assert allowed is False, (  # noqa: PT017 - the refusal is the observed outcome, not expected
                    f"RDY-04: readiness said {action} allowed but {command.name} was refused: {refusal!r}"
                )
            return False
        _note(f"{command.name}: ok")
        self.outcomes[f"{command.name}:ok"] = self.outcomes.get(f"{command.name}:ok", 0) + 1
        if allowed is not None:
            assert allowed is True, (
                f"RDY-04: readiness said {action} not allowed but {command.name} succeeded"
            )
        return True

    def _check_refusal_appended_nothing(
        self, command: c.Command, before: dict[uuid.UUID, int], pid: uuid.UUID | None
    ) -> None:
        after = self._versions()
        for sid, count in after.items():
            old = before.get(sid, 0)
            if count == old:
                continue
            assert sid == pid, f"refused {command.name} appended to another stream {sid}"
            # TIME-04: only the time facts already due may have been recorded, by the system (AUD-12).
            new = self.service.history(sid)[old:]
            for recorded in new:
                assert recorded.type in TIME_FACTS, (command.name, recorded.type)
                assert recorded.metadata.actor.kind == "system"
                assert recorded.metadata.rule in TIME_FACT_RULES

    # --- rules ----------------------------------------------------------------------------------------------

    @initialize(template=templates)
    def first_permit(self, template: str) -> None:
        self.create(template=template, start_minutes=60, hours=8, person="req")

    @initialize(template=templates, area=st.sampled_from((*AREAS, AREAS[0])))
    def overlapping_permit(self, template: str, area: str) -> None:
        """A second permit, submitted, whose window overlaps the first (its verifier nominated): SIMOPS conflicts
        (section 8) arise as soon as the first is submitted in the same or an adjacent area."""
        self.create(template=template, start_minutes=120, hours=6, person="req", area=area)
        for pid in self.permits:
            if self.state(pid).verifier is None:
                self.world.run(
                    c.NominateVerifier(
                        actor=self.actor("req"), permit_id=pid, verifier=self.world.people["ver"]
                    )
                )
        self.do_submit(self.permits[-1], "req", stale=False)

    @precondition(lambda self: len(self.permits) < MAX_PERMITS)
    @rule(
        template=templates,
        start_minutes=st.integers(min_value=-30, max_value=60 * 48),
        hours=st.integers(min_value=1, max_value=12),
        person=st.sampled_from(("req", "req", "req", "app")),
        area=st.sampled_from((*AREAS, AREAS[0])),
    )
    def create(
        self, template: str, start_minutes: int, hours: int, person: str, area: str = AREAS[0]
    ) -> None:
        pid = uuid.uuid4()
        start = self.clock.now() + timedelta(minutes=start_minutes)
        content = self.world.content(
            planned_start=start,
            planned_end=start + timedelta(hours=hours),
            area=area,
            equipment_tags=(f"P-{area}",),
        )
        if self.run(
            None,
            lambda: c.CreatePermit(
                actor=self.actor(person),
                permit_id=pid,
                project_id=self.world.project_id,
                template_key=template,
                content=content,
            ),
        ):
            self.permits.append(pid)

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), nominee=st.sampled_from(("ver", "ver", "ver", "req", "app")), person=people)
    def nominate_verifier(self, data: st.DataObject, nominee: str, person: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.run(
            pid,
            lambda: c.NominateVerifier(
                actor=self.actor(person if data.draw(st.booleans()) else "req"),
                permit_id=pid,
                verifier=self.world.people[nominee],
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("req", "req", "req", "ver")), stale=st.booleans())
    def submit(self, data: st.DataObject, person: str, stale: bool) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.do_submit(pid, person, stale and data.draw(st.booleans()))

    def do_submit(self, pid: uuid.UUID, person: str, stale: bool) -> None:
        kind = c.ResubmitPermit if self.state(pid).status is S.REJECTED else c.SubmitPermit
        self.run(
            pid,
            lambda: kind(actor=self.actor(person), permit_id=pid, signature=self.sig(pid, stale=stale)),
            action=Action.SUBMIT if person == "req" and not stale else None,
            person=person,
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("ver", "ver", "app", "req")),
        approvers=st.sampled_from((("app",), ("app", "app2"), ("app2",))),
    )
    def verify(self, data: st.DataObject, person: str, approvers: tuple[str, ...]) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        state = self.state(pid)
        nominated = state.verifier is not None and state.verifier.person_id == person
        self.run(
            pid,
            lambda: c.VerifyPermit(
                actor=self.actor(person),
                permit_id=pid,
                approvers=tuple(self.world.people[a] for a in approvers),
                signature=self.sig(pid),
            ),
            action=Action.VERIFY if nominated else None,
            person=person,
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("app", "app2", "app", "ver", "area", "req")))
    def approve(self, data: st.DataObject, person: str) -> None:
        """By the right (a nominated approver) or a wrong person."""
        pid = data.draw(st.sampled_from(self.permits))
        nominated = person in {m.person_id for m in self.state(pid).approvers}
        self.run(
            pid,
            lambda: c.ApprovePermit(actor=self.actor(person), permit_id=pid, signature=self.sig(pid)),
            action=Action.APPROVE if nominated else None,
            person=person,
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("ver", "app", "app2", "req")), reason=s.reasons)
    def reject(self, data: st.DataObject, person: str, reason: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.run(pid, lambda: c.RejectPermit(actor=self.actor(person), permit_id=pid, reason=reason))

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("app", "app2", "ver")), reason=s.reasons)
    def send_back(self, data: st.DataObject, person: str, reason: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.run(pid, lambda: c.SendBackPermit(actor=self.actor(person), permit_id=pid, reason=reason))

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("req", "req", "ver")), reason=s.reasons)
    def withdraw(self, data: st.DataObject, person: str, reason: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.run(pid, lambda: c.WithdrawPermit(actor=self.actor(person), permit_id=pid, reason=reason))

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("req", "req", "admin")),
        field=st.sampled_from(("title", "notes", "description", "hazards", "planned_end")),
        amend=st.booleans(),
    )
    def edit_or_amend(self, data: st.DataObject, person: str, field: str, amend: bool) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        state = self.state(pid)
        value: Any = {
            "title": f"title {state.version}",
            "notes": f"note {state.version}",
            "description": f"{state.content.description} (rev {state.version})",
            "hazards": (*state.content.hazards, f"hazard {state.version}"),
            "planned_end": state.content.planned_end + timedelta(hours=data.draw(st.integers(-2, 4))),
        }[field]
        changes = c.PermitChanges(**{field: value})
        if amend:
            self.run(
                pid,
                lambda: c.AmendPermit(
                    actor=self.actor(person), permit_id=pid, changes=changes, reason="scope"
                ),
            )
        else:
            self.run(pid, lambda: c.EditPermit(actor=self.actor(person), permit_id=pid, changes=changes))

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("app", "app2", "req", "ver")), stale=st.booleans())
    def activate(self, data: st.DataObject, person: str, stale: bool) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.do_activate(pid, person, stale and data.draw(st.booleans()))

    def do_activate(self, pid: uuid.UUID, person: str, stale: bool) -> None:
        self.run(
            pid,
            lambda: c.ActivatePermit(
                actor=self.actor(person),
                permit_id=pid,
                signature=self.sig(pid, stale=stale),
                acceptance=self.acceptance(pid),
                presence=scan(self.world, pid, person),
            ),
            action=Action.ACTIVATE if person in ("app", "app2") and not stale else None,
            person=person,
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("safe", "app", "req", "area", "admin")),
        code=st.sampled_from(list(SuspensionReason)),
        text=s.reasons,
    )
    def suspend(self, data: st.DataObject, person: str, code: SuspensionReason, text: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.run(
            pid,
            lambda: c.SuspendPermit(actor=self.actor(person), permit_id=pid, reason_code=code, text=text),
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("app", "app2", "req")))
    def resume(self, data: st.DataObject, person: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.do_resume(pid, person)

    def do_resume(self, pid: uuid.UUID, person: str) -> None:
        self.run(
            pid,
            lambda: c.ResumePermit(
                actor=self.actor(person),
                permit_id=pid,
                signature=self.sig(pid),
                acceptance=self.acceptance(pid),
                presence=scan(self.world, pid, person),
            ),
            action=Action.RESUME if person in ("app", "app2") else None,
            person=person,
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("req", "req", "app")),
        hours=st.integers(min_value=-1, max_value=30),
        reason=s.reasons,
    )
    def request_extension(self, data: st.DataObject, person: str, hours: int, reason: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        end = self.state(pid).valid_until + timedelta(hours=hours)
        self.run(
            pid,
            lambda: c.RequestExtension(
                actor=self.actor(person),
                permit_id=pid,
                extension_id=uuid.uuid4(),
                requested_end=end,
                reason=reason,
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("app", "app2", "req")),
        approve=st.booleans(),
        confirmed=st.booleans(),
        reason=s.reasons,
    )
    def decide_extension(
        self, data: st.DataObject, person: str, approve: bool, confirmed: bool, reason: str
    ) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        state = self.state(pid)
        ext = state.pending_extension or (state.extensions[-1] if state.extensions else None)
        ext_id = ext.extension_id if ext else uuid.uuid4()
        self.run(
            pid,
            lambda: c.DecideExtension(
                actor=self.actor(person),
                permit_id=pid,
                extension_id=ext_id,
                approve=approve,
                reason=reason,
                reassessment_confirmed=confirmed,
                signature=self.sig(pid),
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("req", "app")),
        outcome=st.sampled_from(list(HandBackOutcome)),
        site_safe=st.booleans(),
    )
    def complete(self, data: st.DataObject, person: str, outcome: HandBackOutcome, site_safe: bool) -> None:
        self.do_complete(data.draw(st.sampled_from(self.permits)), person, outcome, site_safe)

    def do_complete(self, pid: uuid.UUID, person: str, outcome: HandBackOutcome, site_safe: bool) -> None:
        self.run(
            pid,
            lambda: c.CompletePermit(
                actor=self.actor(person),
                permit_id=pid,
                outcome=outcome,
                site_safe=site_safe,
                signature=self.sig(pid),
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("app", "area", "app2", "req")))
    def close(self, data: st.DataObject, person: str) -> None:
        self.do_close(data.draw(st.sampled_from(self.permits)), person)

    def do_close(self, pid: uuid.UUID, person: str) -> None:
        self.run(
            pid,
            lambda: c.ClosePermit(
                actor=self.actor(person),
                permit_id=pid,
                inspected_at=self.clock.now(),
                signature=self.sig(pid),
            ),
            action=Action.CLOSE if person in ("app", "app2", "area") else None,
            person=person,
        )

    # --- shift handover (section 4.9) -----------------------------------------------------------------------

    @precondition(lambda self: any(self.state(p).status in LIVE for p in self.permits))
    @rule(
        data=st.data(),
        incoming=st.sampled_from(("req2", "req2", "req", "app")),
        acknowledge=st.booleans(),
        stale=st.sampled_from((False, False, False, True)),
    )
    def hand_over(self, data: st.DataObject, incoming: str, acknowledge: bool, stale: bool) -> None:
        """HOV-02/04, SOD-07, SIG-01: the PA hands the performing role over, signed (refused outside a boundary's
        window unless a missed handover awaits one, to themselves, to a non-requestor, or on a stale view,
        SIG-05); the incoming person may acknowledge, signed."""
        pid = data.draw(st.sampled_from([p for p in self.permits if self.state(p).status in LIVE]))
        now = self.clock.now()
        boundary = boundaries_between(now, now + timedelta(hours=13), "UTC", SHIFTS)[0]
        if boundary - timedelta(minutes=30) < self.state(pid).valid_until and data.draw(st.booleans()):
            self.clock.set(max(now, boundary - timedelta(minutes=30)))  # into the HOV-02 window, still valid
        pa = self.state(pid).performing_authority
        handover_id = uuid.uuid4()
        recorded = self.run(
            pid,
            lambda: hc.RecordHandover(
                actor=self.actor(pa if pa in self.world.people else "req"),
                permit_id=pid,
                handover_id=handover_id,
                role=HandoverRole.PERFORMING,
                incoming=self.world.people[incoming],
                signature=self.sig(pid, stale=stale),
            ),
        )
        if recorded and acknowledge:
            self.run(
                pid,
                lambda: hc.AcknowledgeHandover(
                    actor=self.actor(incoming),
                    permit_id=pid,
                    handover_id=handover_id,
                    signature=self.sig(pid),
                ),
            )

    hand_over_again = hand_over  # live permits are rare among the random walks: draw this more often

    # --- people (section 5): crew, fire watch, briefings ---------------------------------------------------

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("app", "app", "req", "ver", "safe")),
        worker=st.sampled_from(("crew1", "crew1", "watch")),
        roles=st.sampled_from(
            (
                (PermitRole.CREW,),
                (PermitRole.CREW,),
                (PermitRole.CREW, PermitRole.ENTRANT),
                (PermitRole.ATTENDANT,),
            )
        ),
    )
    def assign_worker(
        self, data: st.DataObject, person: str, worker: str, roles: tuple[PermitRole, ...]
    ) -> None:
        """WRK-02/03, COMP-04 (SEC-04: the requestor or an approver); a wrong role can block activation."""
        pid = data.draw(st.sampled_from(self.permits))
        self.run(
            pid,
            lambda: pc.AssignWorker(
                actor=self.actor(person),
                permit_id=pid,
                worker_id=self.world.workers[worker],
                permit_roles=roles,
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("app", "req", "ver")),
        worker=st.sampled_from(("crew1", "watch")),
    )
    def release_worker(self, data: st.DataObject, person: str, worker: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.run(
            pid,
            lambda: pc.ReleaseWorker(
                actor=self.actor(person), permit_id=pid, worker_id=self.world.workers[worker]
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("app", "app", "req", "ver")),
        worker=st.sampled_from(("watch", "watch", "crew1")),
    )
    def assign_fire_watch(self, data: st.DataObject, person: str, worker: str) -> None:
        """CLO-02 with SOD-08: `crew1` holds no fire_watch competency and may be crew."""
        pid = data.draw(st.sampled_from(self.permits))
        self.run(
            pid,
            lambda: pc.AssignFireWatch(
                actor=self.actor(person), permit_id=pid, worker_id=self.world.workers[worker]
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("safe", "safe", "app", "req", "ver")),
        minutes_ago=st.sampled_from((0, 0, 0, 30, 13 * 60)),
    )
    def hold_briefing(self, data: st.DataObject, person: str, minutes_ago: int) -> None:
        """TBT-01: by the PA, an issuer or a safety officer; an old one does not count for TBT-03."""
        pid = data.draw(st.sampled_from(self.permits))
        self.do_hold_briefing(pid, person, self.clock.now() - timedelta(minutes=minutes_ago))

    def do_hold_briefing(self, pid: uuid.UUID, person: str, held_at: Any) -> uuid.UUID:
        tbt_id = uuid.uuid4()
        self.run(
            pid,
            lambda: pc.HoldToolboxTalk(
                actor=self.actor(person),
                permit_id=pid,
                tbt_id=tbt_id,
                held_at=held_at,
                topics=("hazards", "controls", "emergency"),
            ),
        )
        return tbt_id

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        worker=st.sampled_from(("crew1", "crew1", "watch")),
        person=st.sampled_from(("self", "self", "self", "req")),
    )
    def attend_briefing(self, data: st.DataObject, worker: str, person: str) -> None:
        """TBT-02: the worker acknowledges personally (not someone else for them)."""
        pid = data.draw(st.sampled_from(self.permits))
        briefings = self.state(pid).people.briefings
        tbt_id = data.draw(st.sampled_from([b.tbt_id for b in briefings])) if briefings else uuid.uuid4()
        self.do_attend(pid, tbt_id, worker, worker if person == "self" else person)

    def do_attend(self, pid: uuid.UUID, tbt_id: uuid.UUID, worker: str, person: str) -> None:
        self.run(
            pid,
            lambda: pc.AttendToolboxTalk(
                actor=self.actor(person), permit_id=pid, tbt_id=tbt_id, worker_id=self.world.workers[worker]
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("watch", "watch", "req", "app")))
    def complete_fire_watch(self, data: st.DataObject, person: str) -> None:
        """CLO-03: by the fire watch only, after the full minutes."""
        self.do_complete_fire_watch(data.draw(st.sampled_from(self.permits)), person)

    def do_complete_fire_watch(self, pid: uuid.UUID, person: str) -> bool:
        return self.run(pid, lambda: pc.CompleteFireWatch(actor=self.actor(person), permit_id=pid))

    @precondition(lambda self: self.permits)
    @rule(data=st.data())
    def prepare_crew(self, data: st.DataObject) -> None:
        self.do_prepare(data.draw(st.sampled_from(self.permits)))

    def blocked_by(self, pid: uuid.UUID, action: Action, rules: frozenset[str]) -> bool:
        return any(b.rule in rules for b in self.service.readiness(pid).actions[action].blockers)

    def needs_preparation(self, pid: uuid.UUID, action: Action) -> bool:
        return self.blocked_by(pid, action, PEOPLE_RULES | GAS_RULES | ISOLATION_RULES)

    # --- isolation (section 7) ------------------------------------------------------------------------------

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        code=st.sampled_from(POINTS),
        person=st.sampled_from(("iso", "iso", "iso2", "req")),
        required=st.booleans(),
    )
    def assign_point(self, data: st.DataObject, code: str, person: str, required: bool) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        point_id = isolation_handling.point_id_for(self.world.project_id, code)
        self.run(
            pid,
            lambda: ic.AssignIsolationPoint(
                actor=self.actor(person), permit_id=pid, point_id=point_id, required=required
            ),
        )

    def isolation_of(self, data: st.DataObject) -> tuple[uuid.UUID, uuid.UUID] | None:
        """A permit and one of its point assignments' isolation, when it has any."""
        pid = data.draw(st.sampled_from(self.permits))
        assignments = self.state(pid).isolations.assignments
        if not assignments:
            return None
        return pid, data.draw(st.sampled_from(assignments)).isolation_id

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        person=st.sampled_from(("iso", "iso", "iso2", "crew1")),
        category=st.sampled_from(("I", "I", "II", "III")),
    )
    def isolate_point(self, data: st.DataObject, person: str, category: str) -> None:
        if (picked := self.isolation_of(data)) is not None:
            self.do_isolate(*picked, person, category)

    def do_isolate(self, pid: uuid.UUID, isolation_id: uuid.UUID, person: str, category: str) -> None:
        workers = self.world.workers
        self.run(
            pid,
            lambda: ic.IsolatePoint(
                actor=self.actor(person),
                isolation_id=isolation_id,
                lock_ids=(f"L-{uuid.uuid4().hex[:6]}",),
                tag="DANGER DO NOT OPERATE",
                method="closed, locked, tagged",
                achieved_category=category,
                isolated_at=self.clock.now(),
                isolator_worker_id=workers.get(person, workers["iso"]),
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("iso2", "iso2", "iso")), passed=st.booleans())
    def verify_isolation(self, data: st.DataObject, person: str, passed: bool) -> None:
        if (picked := self.isolation_of(data)) is not None:
            self.do_verify(*picked, person, passed)

    def do_verify(self, pid: uuid.UUID, isolation_id: uuid.UUID, person: str, passed: bool) -> None:
        self.run(
            pid,
            lambda: ic.VerifyIsolation(
                actor=self.actor(person),
                isolation_id=isolation_id,
                method="bleed_and_vent",
                passed=passed,
                verified_at=self.clock.now(),
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("iso", "iso2", "req")))
    def deisolate_point(self, data: st.DataObject, person: str) -> None:
        if (picked := self.isolation_of(data)) is not None:
            pid, isolation_id = picked
            self.run(pid, lambda: ic.DeisolatePoint(actor=self.actor(person), isolation_id=isolation_id))

    def do_gas_test(self, pid: uuid.UUID) -> None:
        """A passing session by the gas tester `tester`, as `World.gas_test` takes it, reading by reading."""
        session_id, tester = uuid.uuid4(), self.world.workers["tester"]
        readings = {"O2": 20.9, "LEL": 0.0, "H2S": 0.0, "CO": 0.0}
        units = {"O2": "%vol", "LEL": "%LEL"}
        for gas, value in readings.items():
            if not self.run(
                pid,
                lambda gas=gas, value=value: gc.RecordGasReading(
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
                    tester_worker_id=tester,
                ),
            ):
                return
            if self.state(pid).gas.session(session_id).complete:
                return

    def do_prepare(self, pid: uuid.UUID) -> None:
        """What the site does before issue or resume (WRK-04, COMP-04, CLO-02/SOD-08, TBT-03/05): release other
        workers, assign `crew1` as crew and for hot work `watch` as fire watch, brief everyone assigned, and
        when the template requires it take a gas test (GAS-08, as `World.prepare_crew` does)."""
        w = self.world
        crew, watch = w.workers["crew1"], w.workers["watch"]
        state = self.state(pid)
        for a in state.people.assignments:
            if a.worker_id != crew:
                self.run(
                    pid,
                    lambda a=a: pc.ReleaseWorker(
                        actor=self.actor("app"), permit_id=pid, worker_id=a.worker_id
                    ),
                )
        mine = state.people.assignment(crew)
        if mine is None or not set(mine.permit_roles) <= {PermitRole.CREW, PermitRole.ENTRANT}:
            self.run(
                pid,
                lambda: pc.AssignWorker(
                    actor=self.actor("app"), permit_id=pid, worker_id=crew, permit_roles=(PermitRole.CREW,)
                ),
            )
        if state.category == "hot_work" and state.people.fire_watch != watch:
            self.run(pid, lambda: pc.AssignFireWatch(actor=self.actor("app"), permit_id=pid, worker_id=watch))
        state = self.state(pid)
        if state.suspensions and max(x.at for x in state.suspensions) >= self.clock.now():
            self.clock.advance(timedelta(minutes=1))  # TBT-05: a briefing held after the suspension
        tbt_id = self.do_hold_briefing(pid, "safe", self.clock.now())
        for a in self.state(pid).people.assignments:
            person = next(p for p, wid in w.workers.items() if wid == a.worker_id)
            self.do_attend(pid, tbt_id, person, person)
        if self.blocked_by(pid, Action.ACTIVATE, GAS_RULES) or self.blocked_by(pid, Action.RESUME, GAS_RULES):
            self.do_gas_test(pid)  # the template requires gas testing
        if self.blocked_by(pid, Action.ACTIVATE, ISOLATION_RULES) or self.blocked_by(
            pid, Action.RESUME, ISOLATION_RULES
        ):  # ISO-10: `iso` isolates each assigned point, `iso2` proves it (SOD-03); what is done is refused
            for assignment in self.state(pid).isolations.assignments:
                self.do_isolate(pid, assignment.isolation_id, "iso", "I")
                self.do_verify(pid, assignment.isolation_id, "iso2", True)

    def register(self) -> Register:
        stream = self.service.store.repository.get(register_id(self.world.project_id), projector_func=fold)  # type: ignore[arg-type]
        register: Register = stream.state
        return register

    def conflict(self, cid: uuid.UUID) -> ConflictState:
        state: ConflictState = self.service.store.repository.get(cid, projector_func=fold).state  # type: ignore[arg-type]
        return state

    def conflict_ids(self) -> list[uuid.UUID]:
        return sorted(self.service.store.stream_ids(topics=["ConflictDetected"]))

    @precondition(lambda self: self.conflict_ids())
    @rule(
        data=st.data(),
        person=st.sampled_from(("area", "safe", "area", "app", "req")),
        accept=st.booleans(),
        controls=st.sampled_from(("Fire blanket; gas monitor", "", "  ")),
    )
    def resolve_conflict(self, data: st.DataObject, person: str, accept: bool, controls: str) -> None:
        cid = data.draw(st.sampled_from(self.conflict_ids()))
        decision = "accept_with_controls" if accept else "not_accepted"
        self.run(
            None,
            lambda: sc.ResolveConflict(
                actor=self.actor(person), conflict_id=cid, decision=decision, controls=controls
            ),
        )

    resolve_conflict_again = resolve_conflict

    @rule(person=st.sampled_from(("admin", "admin", "safe")), adjacent=st.booleans())
    def publish_zone_map(self, person: str, adjacent: bool) -> None:
        adjacency = {AREAS[0]: (AREAS[1],)} if adjacent else {}
        self.run(
            None,
            lambda: sc.PublishZoneMap(
                actor=self.actor(person), project_id=self.world.project_id, adjacency=adjacency
            ),
        )

    @rule(
        person=st.sampled_from(("safe", "admin", "req")),
        severity=st.sampled_from(("high", "medium", "low", "critical")),
    )
    def publish_matrix(self, person: str, severity: str) -> None:
        """Cold work next to anything at the drawn severity (SIM-05; "critical" is refused)."""
        cold = MatrixEntry(first="cold_work", second="*", severity=severity, rule="SIM-M08")
        self.run(
            None,
            lambda: sc.PublishSimopsMatrix(
                actor=self.actor(person),
                project_id=self.world.project_id,
                entries=(*DEFAULT_MATRIX.entries, cold),
            ),
        )

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), person=st.sampled_from(("req", "app", "admin", "area", "ver")), reason=s.reasons)
    def cancel(self, data: st.DataObject, person: str, reason: str) -> None:
        pid = data.draw(st.sampled_from(self.permits))
        self.run(pid, lambda: c.CancelPermit(actor=self.actor(person), permit_id=pid, reason=reason))

    @precondition(lambda self: self.permits)
    @rule(
        data=st.data(),
        kind=st.sampled_from(("attach", "annotate", "link")),
        person=st.sampled_from(("safe", "area", "req", "app")),
        n=st.integers(min_value=0, max_value=2),
    )
    def keep_records(self, data: st.DataObject, kind: str, person: str, n: int) -> None:
        """Attachments, annotations and incident links in any status (§4.1, AUD-11, RPT-04); a small `n`
        repeats earlier ones, which record nothing."""
        pid = data.draw(st.sampled_from(self.permits))
        actor = self.actor(person)

        def make() -> c.Command:
            if kind == "attach":
                digest = hashlib.sha256(str(n).encode()).hexdigest()
                return rc.AddAttachment(
                    actor=actor,
                    permit_id=pid,
                    uri=f"urn:docs:{n}",
                    sha256=digest,
                    media_type="image/jpeg",
                    size=1,
                )
            if kind == "annotate":
                return rc.AnnotatePermit(actor=actor, permit_id=pid, text=f"note {n}")
            return rc.LinkIncident(actor=actor, permit_id=pid, incident_ref=f"INC-{n}")

        self.run(pid, make)

    @precondition(lambda self: self.permits)
    @rule(data=st.data())
    def next_step(self, data: st.DataObject) -> None:
        """The right person's next command on the happy path, so random walks reach the later statuses."""
        pid = data.draw(st.sampled_from(self.permits))
        state, w = self.state(pid), self.world
        status = state.status
        if status is S.DRAFT and state.verifier is None:
            self.run(
                pid,
                lambda: c.NominateVerifier(actor=self.actor("req"), permit_id=pid, verifier=w.people["ver"]),
            )
        elif status in (S.DRAFT, S.REJECTED):
            self.do_submit(pid, "req", stale=False)
        elif status is S.SUBMITTED:
            verifier = state.verifier.person_id if state.verifier else "ver"
            self.run(
                pid,
                lambda: c.VerifyPermit(
                    actor=self.actor(verifier),
                    permit_id=pid,
                    approvers=(w.people["app"], w.people["app2"]),
                    signature=self.sig(pid),
                ),
                action=Action.VERIFY if verifier == "ver" else None,
                person=verifier,
            )
        elif status is S.UNDER_REVIEW:
            approver = data.draw(st.sampled_from([m.person_id for m in state.approvers] or ["app"]))
            self.run(
                pid,
                lambda: c.ApprovePermit(actor=self.actor(approver), permit_id=pid, signature=self.sig(pid)),
                action=Action.APPROVE,
                person=approver,
            )
        elif status is S.APPROVED:
            opens = state.content.planned_start - timedelta(minutes=10)
            if self.clock.now() < opens and data.draw(st.booleans()):
                self.clock.set(opens)  # walk to the activation window (LIFE-17)
            if self.needs_preparation(pid, Action.ACTIVATE):
                self.do_prepare(pid)
            self.do_activate(pid, data.draw(st.sampled_from(("app", "app2"))), stale=False)
        elif status is S.SUSPENDED and data.draw(st.booleans()):
            if self.needs_preparation(pid, Action.RESUME):
                self.do_prepare(pid)
            self.do_resume(pid, data.draw(st.sampled_from(("app", "app2"))))
        elif status in (S.ACTIVE, S.SUSPENDED, S.EXPIRED):
            self.do_complete(pid, state.performing_authority, HandBackOutcome.COMPLETE, site_safe=True)
        elif status is S.COMPLETED:
            started, minutes = state.fire_watch_started_at, state.fire_watch_minutes
            if started is not None and state.people.fire_watch_completed_at is None:
                ends = started + timedelta(minutes=minutes or 0)
                if self.clock.now() < ends and data.draw(st.booleans()):
                    self.clock.set(ends)  # sit out the watch (CLO-03)
                if not self.do_complete_fire_watch(pid, "watch"):
                    return
            self.do_close(pid, data.draw(st.sampled_from(("app", "app2", "area"))))

    # weight the happy path: the same rule under more names is drawn more often (one more name since the
    # people rules joined the vocabulary)
    next_step_again = next_step
    next_step_once_more = next_step
    next_step_yet_again = next_step

    @rule(step=s.clock_steps)
    def advance_clock(self, step: timedelta) -> None:
        self.clock.advance(step)

    @rule()
    def sweep(self) -> None:
        first = self.service.run_sweep()
        assert self.service.run_sweep() == [], "TIME-03: a second sweep at the same instant records nothing"
        for result in first:
            assert set(result.events) <= TIME_FACTS

    # --- invariants -----------------------------------------------------------------------------------------

    @invariant()
    def statuses_follow_the_transition_table(self) -> None:
        for pid in self.permits:
            state = self.state(pid)
            assert state.status in set(Status)
            history = state.history
            assert history[0].status is S.DRAFT and history[0].event == "PermitDrafted"
            assert history[-1].status is state.status
            for before, after in itertools.pairwise(history):
                events = TRANSITIONS.get((before.status, after.status))
                assert events is not None, f"{before.status} -> {after.status} is not in section 4.3"
                assert after.event in events, f"{before.status} -> {after.status} by {after.event}"
                assert after.version > before.version
            if any(h.status is S.CANCELLED for h in history):
                expired_then_cancelled = any(
                    a.status is S.EXPIRED and b.status is S.CANCELLED for a, b in itertools.pairwise(history)
                )
                assert not (expired_then_cancelled and state.ever_activated), (
                    "LIFE-22: activated then cancelled"
                )

    @invariant()
    def replay_equals_live(self) -> None:
        for pid in self.permits:
            events = self.service.history(pid)
            replayed = fold(None, events)
            assert replayed is not None
            live = self.service.permit(pid)
            assert replayed.state == live
            assert replayed.version == live.version == len(events)

    @invariant()
    def conflict_streams_agree_with_the_register(self) -> None:
        """SIM-09/11: every conflict the register's footprints make under its zone map and matrix has an uncleared
        stream with the same facts hash, and every other conflict stream is cleared."""
        if not self.conflict_ids():
            return
        register = self.register()
        expected = {}
        for fp in register.footprints.values():
            expected.update({cid: digest for cid, (_, digest) in conflicts_of(register, fp).items()})
        for cid in self.conflict_ids():
            state = self.conflict(cid)
            if cid in expected:
                assert not state.cleared and state.facts_hash == expected.pop(cid), cid
            else:
                assert state.cleared, f"conflict {cid} is open but the register no longer makes it"
        assert not expected, f"conflicts without a stream: {sorted(expected)}"

    @invariant()
    def every_chain_verifies(self) -> None:
        verdicts = self.service.verify_chain()
        assert all(v.ok for v in verdicts), [v.broken for v in verdicts if not v.ok]


PermitMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPermitLifecycleMachine = PermitMachine.TestCase


def test_the_same_machine_runs_on_sqlite(tmp_path: Path) -> None:
    def factory() -> PermitMachine:
        return PermitMachine(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db")

    run_state_machine_as_test(
        factory,
        settings=settings(
            max_examples=5,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_the_machine_reaches_deep_statuses() -> None:
    """A sanity check that the machine's vocabulary can take a permit all the way (not only refusals)."""
    machine = PermitMachine()
    try:
        pid = machine.permits[0] if machine.permits else None
        if pid is None:
            machine.create(template="cold-work", start_minutes=60, hours=8, person="req")
            pid = machine.permits[0]
        w = machine.world
        w.run(c.NominateVerifier(actor=w.actor("req"), permit_id=pid, verifier=w.people["ver"]))
        machine.permits = [pid]
        machine.run(
            pid,
            lambda: c.SubmitPermit(actor=w.actor("req"), permit_id=pid, signature=machine.sig(pid)),
            action=Action.SUBMIT,
            person="req",
        )
        machine.run(
            pid,
            lambda: c.VerifyPermit(
                actor=w.actor("ver"), permit_id=pid, approvers=(w.people["app"],), signature=machine.sig(pid)
            ),
            action=Action.VERIFY,
            person="ver",
        )
        machine.run(
            pid,
            lambda: c.ApprovePermit(actor=w.actor("app"), permit_id=pid, signature=machine.sig(pid)),
            action=Action.APPROVE,
            person="app",
        )
        assert machine.needs_preparation(pid, Action.ACTIVATE)
        machine.do_prepare(pid)
        assert not machine.needs_preparation(pid, Action.ACTIVATE), machine.outcomes
        machine.clock.advance(timedelta(minutes=30))
        machine.run(
            pid,
            lambda: c.ActivatePermit(
                actor=w.actor("app2"),
                permit_id=pid,
                signature=machine.sig(pid),
                acceptance=machine.acceptance(pid),
                presence=scan(w, pid, "app2"),
            ),
            action=Action.ACTIVATE,
            person="app2",
        )
        assert machine.state(pid).status is S.ACTIVE, machine.outcomes
        machine.statuses_follow_the_transition_table()
        machine.replay_equals_live()
        machine.every_chain_verifies()
    finally:
        machine.teardown()


@pytest.mark.parametrize("status", [S.CLOSED, S.CANCELLED])
def test_terminal_statuses_have_no_way_out(status: Status) -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] is status]


def test_the_transition_table_excludes_the_forbidden_moves() -> None:
    """Section 4.3 "not allowed, deliberately"."""
    for pair in [
        (S.DRAFT, S.ACTIVE),
        (S.SUBMITTED, S.APPROVED),
        (S.SUSPENDED, S.CANCELLED),
        (S.ACTIVE, S.CANCELLED),
        (S.APPROVED, S.SUBMITTED),
    ]:
        assert pair not in TRANSITIONS
    assert msgspec.json.encode(sorted(f"{a}>{b}" for a, b in TRANSITIONS))
