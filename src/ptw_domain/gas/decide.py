"""Deciding gas readings and voids (GAS-01..07, 11, 13, 14): the server computes every verdict."""

from __future__ import annotations

from typing import Any

from ptw_domain.errors import Forbidden, GuardFailed, NotFound, ValidationFailed
from ptw_domain.events import gas as ev
from ptw_domain.events.permit import PermitEvent, PermitSuspended, SuspensionReason
from ptw_domain.findings import Finding
from ptw_domain.gas import commands as gc
from ptw_domain.gas.profiles import FLAMMABLES, OXYGEN, UNIT_RANGES, GasLimit, GasLimitProfile, order_rank
from ptw_domain.permit.authority import check_status, refuse_integration_signing, require_role
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.execution import fact_time
from ptw_domain.permit.status import LIVE, Status
from ptw_domain.roles import Role

LIVE_STATUSES = frozenset(s.value for s in LIVE)
GAS_TESTING = "gas_testing"  # COMP-03: the gas tester's competency


def hot_work_in_confined_space(ctx: PermitContext) -> bool:
    """GAS-07: a hot-work permit with the confined-space flag, or in the area of a live confined-space permit
    (found through the project's SIMOPS register)."""
    state = ctx.state
    if state.category != "hot_work":
        return False
    if state.content.confined_space:
        return True
    register = ctx.simops
    if register is None:
        return False
    neighbours = register.index.get(f"area:{state.content.area}", ())
    return any(
        (fp := register.footprints[p]).category == "confined_space" and fp.status in LIVE_STATUSES
        for p in neighbours
        if p != state.permit_id
    )


def limit_for(ctx: PermitContext, profile: GasLimitProfile, gas: str) -> GasLimit:
    limit = profile.limits.get(gas)
    if limit is None:
        raise ValidationFailed(
            f"the profile {profile.key} v{profile.version} has no limit for {gas}",
            rule_ids=("GAS-14",),
            facts={"field": "gas", "known": sorted(profile.limits)},
        )
    if gas == FLAMMABLES and hot_work_in_confined_space(ctx):
        return profile.confined_hot_work_lel
    return limit


def _check_value(cmd: gc.RecordGasReading, limit: GasLimit) -> None:
    """GAS-14: units fixed per gas; % within 0-100, ppm within 0-100 000."""
    if cmd.unit != limit.unit:
        raise ValidationFailed(
            f"{cmd.gas} is measured in {limit.unit}",
            rule_ids=("GAS-14",),
            facts={"field": "unit", "expected": limit.unit},
        )
    if not 0.0 <= cmd.value <= UNIT_RANGES.get(limit.unit, float("inf")):
        raise ValidationFailed(
            f"{cmd.value} {cmd.unit} is out of range", rule_ids=("GAS-14",), facts={"field": "value"}
        )


def _session_findings(ctx: PermitContext, cmd: gc.RecordGasReading, tested_at: Any) -> list[Finding]:
    """GAS-03/04/06: order O2 -> flammables -> toxics, one tester and instrument, nothing after a failure."""
    gas_state = ctx.state.gas
    session = gas_state.session(cmd.session_id)
    if not session.readings:
        return []
    last = session.readings[-1]
    findings = []
    if session.complete:
        findings.append(Finding(rule="GAS-06", code="session_complete", message="the session is complete"))
    if any(r.gas == OXYGEN and r.verdict == "fail" for r in session.readings):
        findings.append(
            Finding(
                rule="GAS-04",
                code="oxygen_failed",
                message="oxygen failed: ventilate and start a new session",
            )
        )
    if (last.tester, last.instrument) != (ctx.person, cmd.instrument):
        findings.append(
            Finding(
                rule="GAS-01",
                code="one_tester_one_instrument",
                message="a session is one tester with one instrument",
                facts={"tester": last.tester, "instrument": last.instrument},
            )
        )
    if any(r.gas == cmd.gas for r in session.readings) or order_rank(cmd.gas) < order_rank(last.gas):
        findings.append(
            Finding(
                rule="GAS-03",
                code="out_of_order",
                message="readings go oxygen, then flammables, then toxics, once each",
                facts={"last_gas": last.gas, "gas": cmd.gas},
            )
        )
    if tested_at < last.tested_at:
        findings.append(
            Finding(
                rule="TIME-02",
                code="before_previous_reading",
                message="a reading cannot precede the previous one of its session",
            )
        )
    return findings


def record_reading(cmd: gc.RecordGasReading, ctx: PermitContext) -> list[PermitEvent]:
    check_status(ctx, cmd.name)
    require_role(ctx, cmd.name, Role.GAS_TESTER)
    refuse_integration_signing(ctx, cmd.name)  # ROLE-07: no safety facts from integrations
    tester = ctx.worker(cmd.tester_worker_id, field="tester_worker_id")
    if tester.person_id != ctx.person:
        raise Forbidden("a gas tester records their own readings", rule_ids=("GAS-01", "SEC-05"))
    tested_at = fact_time(ctx, cmd.tested_at, "tested_at", not_before=ctx.state.created_at)
    findings: list[Finding] = []
    competency = tester.competent(GAS_TESTING, tested_at)
    if competency is None:
        findings.append(
            Finding(
                rule="GAS-01",
                code="competency_missing",
                message=f"{tester.name} holds no valid gas_testing competency",
            )
        )
    if cmd.calibration_due <= tested_at:
        findings.append(
            Finding(
                rule="GAS-01",
                code="calibration_due",
                message="the instrument's calibration was due at or before the test",
                facts={"calibration_due": cmd.calibration_due.isoformat()},
            )
        )
    profile = ctx.gas_profile(tested_at)
    if profile is None:
        raise GuardFailed(
            "no gas limit profile is in force",
            blockers=[
                Finding(
                    rule="GAS-05",
                    code="no_profile",
                    message=f"no {ctx.template.gas_limit_profile} profile in force",
                )
            ],
        )
    limit = limit_for(ctx, profile, cmd.gas)
    _check_value(cmd, limit)
    findings += _session_findings(ctx, cmd, tested_at)
    if findings:
        raise ctx.refuse("the reading is refused", findings)
    verdict = "pass" if limit.passes(cmd.value) else "fail"
    session = ctx.state.gas.session(cmd.session_id)
    reading = ev.GasReadingRecorded(
        reading_id=cmd.reading_id,
        session_id=cmd.session_id,
        seq=len(session.readings) + 1,
        gas=cmd.gas,
        value=cmd.value,
        unit=cmd.unit,
        tested_at=tested_at,
        tester=ctx.person or "",
        tester_worker_id=cmd.tester_worker_id,
        instrument=cmd.instrument,
        calibration_due=cmd.calibration_due,
        profile_id=profile.key,
        profile_version=profile.version,
        limit=limit,
        verdict=verdict,
        competency_ids=(competency.competency_id,) if competency else (),
    )
    return [reading, *_consequences(ctx, profile, reading)]


def _consequences(
    ctx: PermitContext, profile: GasLimitProfile, reading: ev.GasReadingRecorded
) -> list[PermitEvent]:
    """GAS-06 completion, and GAS-11: a failing reading suspends an active permit in the same transaction."""
    session = ctx.state.gas.session(reading.session_id)
    gases = {r.gas for r in session.readings} | {reading.gas}
    failing = tuple(r.gas for r in session.readings if r.verdict == "fail") + (
        (reading.gas,) if reading.verdict == "fail" else ()
    )
    out: list[PermitEvent] = []
    if failing or set(profile.required) <= gases:
        out.append(
            ev.GasTestSessionCompleted(
                session_id=reading.session_id,
                verdict="fail" if failing else "pass",
                failing_gases=failing,
                completed_at=reading.tested_at,
            )
        )
    if reading.verdict == "fail" and ctx.state.status in (Status.ACTIVE, Status.SUSPENDED):
        out.append(
            PermitSuspended(
                reason_code=SuspensionReason.GAS_TEST_FAILED,
                by_system=True,
                cause_ref=str(reading.reading_id),
                text=f"{reading.gas} {reading.value} {reading.unit} failed the limit: evacuate and ventilate",
            )
        )
    return out


def void_reading(cmd: gc.VoidGasReading, ctx: PermitContext) -> list[PermitEvent]:
    """GAS-13: readings are immutable; the tester (own) or a safety officer or area authority voids one."""
    check_status(ctx, cmd.name)
    reading = ctx.state.gas.reading(cmd.reading_id)
    if reading is None:
        raise NotFound("no such reading on this permit", facts={"field": "reading_id"})
    assert ctx.actor is not None
    reviewers = {Role.SAFETY_OFFICER, Role.AREA_AUTHORITY}
    if reading.tester != ctx.person and not reviewers & ctx.actor.member.roles:
        raise Forbidden(
            "only the tester, a safety officer or an area authority voids a reading",
            rule_ids=("GAS-13", "SEC-04"),
        )
    if not cmd.reason.strip():
        raise ValidationFailed("voiding needs a reason", rule_ids=("GAS-13",), facts={"field": "reason"})
    if cmd.reading_id in ctx.state.gas.voided:
        return []
    return [
        ev.GasReadingVoided(reading_id=cmd.reading_id, reason=cmd.reason.strip(), voided_by=ctx.person or "")
    ]


GAS_HANDLERS: dict[type[Any], Any] = {gc.RecordGasReading: record_reading, gc.VoidGasReading: void_reading}
