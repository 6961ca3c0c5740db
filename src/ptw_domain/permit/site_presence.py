"""SIG-12: checking the site-presence evidence of an activation or a resume.

Presence evidence is a required input (RDY-06), not a readiness blocker: readiness cannot know what the issuer will
scan, so a missing or unfit piece of evidence is refused `validation_failed` naming the field, after the guards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ptw_domain.errors import ValidationFailed
from ptw_domain.permit.context import PermitContext
from ptw_domain.presence import CoPresenceAttestation, PresenceEvidence, ScanEvidence

PRESENCE_MAX_AGE = timedelta(minutes=15)  # SIG-12 [choice]: evidence no older than this before the command


def _refuse(
    message: str, field: str, rules: tuple[str, ...] = ("SIG-12",), **facts: object
) -> ValidationFailed:
    return ValidationFailed(message, rule_ids=rules, facts={"field": field, **facts})


def _recent(ctx: PermitContext, taken_at: datetime, field: str) -> None:
    """Taken no more than 15 minutes before now, and not in the future beyond the clock skew (TIME-02)."""
    skew = timedelta(minutes=ctx.project.settings.clock_skew_minutes)
    now = ctx.evidence_now  # SYNC-11: offline evidence is judged at the command's device time
    if taken_at > now + skew:
        raise _refuse(
            "the presence evidence is dated in the future",
            field,
            ("SIG-12", "TIME-02"),
            value=taken_at.isoformat(),
            now=now.isoformat(),
        )
    if now - taken_at > PRESENCE_MAX_AGE:
        raise _refuse(
            f"the presence evidence is older than {PRESENCE_MAX_AGE.seconds // 60} minutes",
            field,
            value=taken_at.isoformat(),
            now=now.isoformat(),
            max_age_minutes=PRESENCE_MAX_AGE.seconds // 60,
        )


def _scan(ctx: PermitContext, scan: ScanEvidence, acceptor: str) -> None:
    """A registered code matching the permit's area or one of its equipment tags (case-insensitive), scanned by
    the issuer (or the delegator they issue for) or the acceptor."""
    content = ctx.state.content
    places = {p.strip().casefold() for p in (content.area, *content.equipment_tags)}
    if scan.code.strip().casefold() not in places:
        raise _refuse(
            "the scanned code is neither the permit's area nor one of its equipment tags",
            "presence.code",
            code=scan.code,
            area=content.area,
            equipment_tags=list(content.equipment_tags),
        )
    if scan.scanned_by not in {*ctx.persons, acceptor}:
        raise _refuse(
            "the scan must be taken by the issuer or the acceptor",
            "presence.scanned_by",
            scanned_by=scan.scanned_by,
        )
    _recent(ctx, scan.scanned_at, "presence.scanned_at")


def _co_presence(ctx: PermitContext, attestation: CoPresenceAttestation, acceptor: str) -> None:
    """Both parties of this act: the issuer (the actor, or the delegator they issue for) and the acceptor."""
    if attestation.issuer not in ctx.persons:
        raise _refuse("the attestation names another issuer", "presence.issuer", issuer=attestation.issuer)
    if attestation.acceptor != acceptor:
        raise _refuse(
            "the attestation names another acceptor", "presence.acceptor", acceptor=attestation.acceptor
        )
    _recent(ctx, attestation.attested_at, "presence.attested_at")


def checked_presence(
    ctx: PermitContext, evidence: PresenceEvidence | None, acceptor: str
) -> PresenceEvidence | None:
    """SIG-12: with `requires_presence_evidence` the evidence must be given; evidence given is always checked, so
    the event never records evidence that would not have been accepted."""
    if evidence is None:
        if ctx.template.requires_presence_evidence:
            raise _refuse(
                "site-presence evidence is required (a scan or a co-presence attestation)", "presence"
            )
        return None
    if isinstance(evidence, ScanEvidence):
        _scan(ctx, evidence, acceptor)
    else:
        _co_presence(ctx, evidence, acceptor)
    return evidence
