"""Per-evaluation facts of every assigned worker, derived once and shared by the people guards, the warning and
the progress figures (readiness stays one pure evaluation, without recomputing a worker's standing per guard)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from ptw_domain.permit.context import PermitContext


@dataclass(frozen=True, slots=True)
class WorkerFacts:
    worker_id: UUID
    name: str
    roles: tuple[str, ...]
    missing: tuple[str, ...]  # COMP-04: codes of their permit roles without a valid record now
    briefed: bool  # TBT-04: attended a briefing of this permit held since their assignment
    ending: tuple[tuple[str, datetime], ...]  # RDY-08: relied-on records ending within 7 days


def assigned_facts(ctx: PermitContext) -> tuple[WorkerFacts, ...]:
    facts: tuple[WorkerFacts, ...] = ctx.once("assigned_facts", lambda: _derive(ctx))
    return facts


def _derive(ctx: PermitContext) -> tuple[WorkerFacts, ...]:
    people, now = ctx.state.people, ctx.now
    soon = now + timedelta(days=7)
    out = []
    for a in people.assignments:
        worker = ctx.workers.get(a.worker_id)
        roles = tuple(r.value for r in a.permit_roles)
        codes = [code for role in roles for code in ctx.required_codes(role)]
        records = {code: worker.competent(code, now) if worker else None for code in dict.fromkeys(codes)}
        out.append(
            WorkerFacts(
                worker_id=a.worker_id,
                name=worker.name if worker else str(a.worker_id),
                roles=roles,
                missing=tuple(sorted(code for code, record in records.items() if record is None)),
                briefed=people.briefed_after(a.worker_id, a.assigned_at - timedelta(microseconds=1))
                is not None,
                ending=tuple(
                    (code, r.valid_until)
                    for code, r in records.items()
                    if r is not None and r.valid_until <= soon
                ),
            )
        )
    return tuple(out)
