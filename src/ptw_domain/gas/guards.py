"""Readiness guards of the gas area: fresh passing test (GAS-08), latest decides (GAS-09), 0 % LEL for hot work in
a confined space (GAS-07), revalidation after a failure (GAS-12); warnings and progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from ptw_domain.findings import Finding, found
from ptw_domain.gas.decide import hot_work_in_confined_space
from ptw_domain.gas.profiles import FLAMMABLES
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.readiness import Action, guard, warning

A = Action


def latest_session(ctx: PermitContext) -> Any:
    """GAS-09: the latest complete session, found once per evaluation."""
    return ctx.once("gas_latest", ctx.state.gas.latest)


def last_pass(ctx: PermitContext) -> Any:
    return ctx.once("gas_last_pass", ctx.state.gas.last_pass)


@guard((A.ACTIVATE, "GAS-08"), (A.RESUME, "GAS-08"))
def fresh_passing_session(ctx: PermitContext) -> list[Finding]:
    if not ctx.template.requires_gas_testing:
        return []
    latest = latest_session(ctx)
    if latest is None:
        return [Finding(rule="GAS-08", code="no_gas_test", message="no complete gas test session")]
    assert latest.completed_at is not None
    if not latest.passed:
        return []  # GAS-09 reports a failing latest session
    fresh_until = latest.completed_at + timedelta(minutes=ctx.template.gas_validity_minutes)
    if ctx.now < fresh_until:
        return []
    age = (ctx.now - latest.completed_at).total_seconds() / 60
    return [
        Finding(
            rule="GAS-08",
            code="gas_test_stale",
            message=f"the last passing gas test is {age:.0f} min old",
            facts={
                "tested_at": latest.completed_at.isoformat(),
                "age_minutes": round(age),
                "limit_minutes": ctx.template.gas_validity_minutes,
            },
        )
    ]


@guard((A.ACTIVATE, "GAS-09"), (A.RESUME, "GAS-09"))
def latest_session_decides(ctx: PermitContext) -> list[Finding]:
    if not ctx.template.requires_gas_testing:
        return []
    latest = latest_session(ctx)
    if latest is None or latest.passed:
        return []
    failing = [r.gas for r in latest.readings if r.verdict == "fail"]
    return found(
        "GAS-09",
        "gas_test_failed",
        f"the latest gas test failed on {', '.join(failing)}",
        {"session_id": str(latest.session_id), "failing_gases": failing},
    )


@guard((A.ACTIVATE, "GAS-07"))
def no_flammables_for_confined_hot_work(ctx: PermitContext) -> list[Finding]:
    if not hot_work_in_confined_space(ctx):
        return []
    latest = latest_session(ctx)
    lel = next((r for r in latest.readings if r.gas == FLAMMABLES), None) if latest else None
    if lel is not None and lel.value == 0:
        return []
    return found(
        "GAS-07",
        "flammables_present",
        "hot work inside a confined space needs 0 % LEL in the latest test",
        {"lel": lel.value if lel else None},
    )


@guard((A.RESUME, "GAS-12"))
def retested_after_failure(ctx: PermitContext) -> list[Finding]:
    """GAS-12: after a gas failure, a complete passing session whose readings all follow the failing reading."""
    causes = [s for s in ctx.state.suspensions if s.reason_code == "gas_test_failed" and s.cause_ref]
    if not causes:
        return []
    gas_state = ctx.state.gas
    failed = [gas_state.reading(UUID(c.cause_ref)) for c in causes]
    after = max(r.tested_at for r in failed if r is not None)
    if any(s.passed and all(r.tested_at > after for r in s.readings) for s in gas_state.counted_sessions()):
        return []
    return found(
        "GAS-12",
        "no_retest_after_failure",
        "a complete passing gas test after the failing reading is needed",
        {"failed_at": after.isoformat()},
    )


def retest_due(ctx: PermitContext) -> Any:
    """GAS-10: the last passing session plus the retest interval, for periodic testing while active."""
    if not ctx.template.periodic_gas_testing or ctx.state.status != "active":
        return None
    last = last_pass(ctx)
    if last is None or last.completed_at is None:
        return None
    return last.completed_at + timedelta(minutes=ctx.template.retest_interval_minutes)


@warning
def retest_soon(ctx: PermitContext) -> list[Finding]:
    """RDY-08: a retest due within 30 minutes."""
    due = retest_due(ctx)
    if due is None or not ctx.now <= due <= ctx.now + timedelta(minutes=30):
        return []
    return found(
        "RDY-08", "retest_due", f"a gas retest is due at {due.isoformat()}", {"due_at": due.isoformat()}
    )


def gas_progress(ctx: PermitContext) -> dict[str, Any]:
    """RDY-07: last session time, verdict and fresh-until, next retest due."""
    latest = latest_session(ctx)
    due = retest_due(ctx)
    if latest is None or latest.completed_at is None:
        return {"gas": None}
    fresh_until = latest.completed_at + timedelta(minutes=ctx.template.gas_validity_minutes)
    return {
        "gas": {
            "last_session_at": latest.completed_at.isoformat(),
            "verdict": latest.verdict,
            "fresh_until": fresh_until.isoformat(),
            "next_retest_due": due.isoformat() if due else None,
        }
    }
