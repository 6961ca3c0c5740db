"""Signing (SIG-02..10): a signature is made inside the command that performs the act."""

from __future__ import annotations

from datetime import timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from ptw_domain.errors import ReauthenticationRequired, StaleView
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.state import PermitState
from ptw_domain.roles import Member
from ptw_domain.signatures import Signature, SignatureInput, SigningPoint

_SIGNATURES = uuid5(NAMESPACE_URL, "urn:ptw:signature")


def check_core_hash(state: PermitState, given: SignatureInput) -> None:
    """SIG-05: the signer must have reviewed the current core scope."""
    if given.core_hash != state.core_hash:
        raise StaleView(
            "the permit's core scope changed since it was reviewed",
            rule_ids=("SIG-05",),
            facts={"current_core_hash": state.core_hash, "given_core_hash": given.core_hash},
            current_status=state.status.value,
            current_version=state.version,
        )


def sign(
    ctx: PermitContext,
    *,
    point: SigningPoint,
    signer: Member,
    given: SignatureInput,
    intent: str,
    role: str,
    reviewed: PermitState | None = None,
) -> Signature:
    """Check SIG-04 re-authentication and SIG-05 core hash (of the state the signer `reviewed`, by default the
    current one), then make the signature (SIG-02) bound to the context's state."""
    state, now = ctx.state, ctx.now
    evidence_now = ctx.evidence_now  # SYNC-11: an offline signature is judged at its device time
    check_core_hash(reviewed or state, given)
    evidence = given.reauthenticated_at
    if evidence is None and ctx.actor is not None and signer.person_id == ctx.actor.person_id:
        evidence = ctx.actor.auth_time
    max_age = timedelta(seconds=ctx.project.settings.reauth_max_age_seconds)
    if (
        evidence is None
        or evidence > evidence_now + timedelta(minutes=ctx.project.settings.clock_skew_minutes)
        or (evidence_now - evidence > max_age)
    ):
        raise ReauthenticationRequired(
            f"{point} signature needs re-authentication within {max_age.seconds} s",
            rule_ids=("SIG-04",),
            facts={
                "signer": signer.person_id,
                "reauthenticated_at": evidence.isoformat() if evidence else None,
                "max_age_seconds": ctx.project.settings.reauth_max_age_seconds,
            },
        )
    on_behalf_of = (
        ctx.acting_for.delegator
        if ctx.acting_for and ctx.actor and (signer.person_id == ctx.actor.person_id)
        else None
    )
    return Signature(
        signature_id=signature_id(state.permit_id, state.cycle, point, signer.person_id, state.version),
        point=point,
        signer=signer.person_id,
        role=role,
        authority_level=signer.authority_level,
        on_behalf_of=on_behalf_of,
        signed_at=now.replace(microsecond=0),
        permit_id=state.permit_id,
        permit_version=state.version,
        core_hash=state.core_hash,
        cycle=state.cycle,
        intent=intent,
        reauthenticated_at=evidence,
        reauth_method=given.method or (ctx.actor.auth_method if ctx.actor else "token"),
        client_id=None,
        device_id=None,
        image=given.image,
    )


def sign_act(
    ctx: PermitContext,
    given: SignatureInput,
    *,
    point: SigningPoint,
    intent: str,
    role: str,
    reviewed: PermitState | None = None,
) -> Signature:
    """The acting person's own signature on the act they perform."""
    return sign(
        ctx, point=point, signer=ctx.actor_member, given=given, intent=intent, role=role, reviewed=reviewed
    )


def signature_id(permit_id: UUID, cycle: int, point: str, signer: str, version: int) -> UUID:
    """Deterministic, so replaying a decision yields the same id (SIG-10: one per permit, cycle, point, signer)."""
    return uuid5(_SIGNATURES, f"{permit_id}:{cycle}:{point}:{signer}:{version}")
