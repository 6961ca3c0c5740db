"""Per-evaluation facts of every assigned worker and of the PA and issuer, derived once and shared by the people
guards, the warning, the progress figures and the signatures of the act (readiness stays one pure evaluation,
without recomputing a person's standing per guard)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.state import PermitState
from ptw_domain.roles import Actor
from ptw_domain.templates import ResolvedTemplate


@dataclass(frozen=True, slots=True)
class WorkerFacts:
    worker_id: UUID
    name: str
    roles: tuple[str, ...]
    missing: tuple[str, ...]  # COMP-04: codes of their permit roles without a valid record now
    briefed: bool  # TBT-04: attended a briefing of this permit held since their assignment
    ending: tuple[tuple[str, datetime], ...]  # RDY-08: relied-on records ending within 7 days


# COMP-03/04: the template keys (beside the permit roles of WRK-02) naming the codes the PA, the issuer and an
# isolating authority taking over isolation locks (HOV-04) need; none are required unless the template lists some.
PA_ROLE = "performing_authority"
ISSUER_ROLE = "issuer"
ISOLATING_ROLE = "isolating_authority"


def party_persons(state: PermitState, actor: Actor | None, template: ResolvedTemplate) -> dict[str, str]:
    """COMP-04: by template key, the parties of an activation or resume whose competencies the template requires:
    the PA (the acceptor) and, when the actor is known, the issuer (the acting person; without an actor the issuer
    is unknown and omitted, as RDY-05 omits the checks on the actor)."""
    found = {PA_ROLE: state.performing_authority}
    if actor is not None:
        found[ISSUER_ROLE] = actor.person_id
    return {role: person for role, person in found.items() if template.required_competencies.get(role)}


def party_members(
    state: PermitState, actor: Actor | None, template: ResolvedTemplate, member_workers: Mapping[str, UUID]
) -> dict[str, UUID]:
    """WRK-01: the linked worker ids of those parties, for `PermitContext.members`."""
    persons = party_persons(state, actor, template).values()
    return {p: member_workers[p] for p in persons if p in member_workers}


@dataclass(frozen=True, slots=True)
class PartyFacts:
    role: str  # PA_ROLE, ISSUER_ROLE or ISOLATING_ROLE
    person_id: str
    worker_id: UUID | None  # None: the member is linked to no worker record
    # COMP-04: required codes without a valid record now (all of them without a worker record)
    missing: tuple[str, ...]
    relied_on: tuple[UUID, ...]  # COMP-02: the records the act relies on


def party_facts(ctx: PermitContext) -> tuple[PartyFacts, ...]:
    facts: tuple[PartyFacts, ...] = ctx.once("party_facts", lambda: _derive_parties(ctx))
    return facts


def _derive_parties(ctx: PermitContext) -> tuple[PartyFacts, ...]:
    return tuple(
        person_facts(ctx, role, person)
        for role, person in party_persons(ctx.state, ctx.actor, ctx.template).items()
    )


def person_facts(ctx: PermitContext, role: str, person: str) -> PartyFacts:
    """COMP-02: how `person` stands now against the codes the template requires for `role`, through the worker
    record their member is linked to (WRK-01; loaded into `ctx.members` by the service)."""
    codes = ctx.required_codes(role)
    worker = ctx.linked_worker(person)
    return PartyFacts(
        role=role,
        person_id=person,
        worker_id=worker.worker_id if worker else None,
        missing=tuple(sorted(worker.missing(codes, ctx.now) if worker else set(codes))),
        relied_on=worker.relied_on(codes, ctx.now) if worker else (),
    )


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
