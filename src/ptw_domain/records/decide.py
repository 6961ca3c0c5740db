"""Deciding attachments (§4.1), annotations (AUD-11) and incident links (RPT-04).

None of them signs or moves the status. Sent twice with the same details (a retried request, an integration's
at-least-once delivery) they record nothing the second time; the same document or incident with other details is
refused: the first record stands, and a correction is an annotation (AUD-02).
"""

from __future__ import annotations

from typing import Any

from ptw_domain.errors import Forbidden, ValidationFailed
from ptw_domain.events import records as ev
from ptw_domain.events.permit import PermitEvent
from ptw_domain.permit.authority import check_status, require_role
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.execution import fact_time
from ptw_domain.records import commands as rc
from ptw_domain.roles import Role, is_integration

Events = list[PermitEvent]
# Our choice (SEC-04 has no row): besides the requestor and the PA, the roles that issue, close, isolate, test
# and oversee the work, each of whom holds evidence of it (a lock photo, an instrument print-out, a certificate).
ATTACHMENT_ROLES = frozenset(
    {Role.APPROVER, Role.AREA_AUTHORITY, Role.ISOLATING_AUTHORITY, Role.GAS_TESTER, Role.SAFETY_OFFICER}
)
ANNOTATION_ROLES = (Role.AREA_AUTHORITY, Role.SAFETY_OFFICER)  # SEC-04 "annotate"


def _already_recorded(what: str, field: str) -> ValidationFailed:
    return ValidationFailed(
        f"this {what} is already recorded on the permit with other details; correct it with an annotation",
        rule_ids=("AUD-02",),
        facts={"field": field},
    )


def add_attachment(cmd: rc.AddAttachment, ctx: PermitContext) -> Events:
    """Until close or cancellation (after that the record only takes annotations, AUD-11), by the requestor,
    the PA or a member of `ATTACHMENT_ROLES`; at most `MAX_ATTACHMENTS` per permit (SEC-11)."""
    check_status(ctx, cmd.name)
    state = ctx.state
    party = ctx.task_owner in (state.requestor, state.performing_authority)
    if not party and not ATTACHMENT_ROLES & ctx.actor_member.roles:
        raise Forbidden(
            f"{cmd.name} is for the requestor, the performing authority or one of the roles "
            f"{', '.join(sorted(ATTACHMENT_ROLES))}",
            rule_ids=("SEC-04", "SEC-05"),
            facts={"actor": ctx.task_owner},
        )
    attachment = ev.AttachmentAdded(
        uri=cmd.uri,
        sha256=cmd.sha256,
        media_type=cmd.media_type.lower(),  # RFC 6838: case-insensitive
        size=cmd.size,
        title=cmd.title.strip(),
        added_by=ctx.person or "",
    )
    existing = state.records.attachment(cmd.sha256)
    if existing is not None:
        same = (existing.uri, existing.media_type, existing.size, existing.title) == (
            attachment.uri,
            attachment.media_type,
            attachment.size,
            attachment.title,
        )
        if same:
            return []
        raise _already_recorded("document (same SHA-256)", "sha256")
    if len(state.records.attachments) >= rc.MAX_ATTACHMENTS:
        raise ValidationFailed(
            f"a permit holds at most {rc.MAX_ATTACHMENTS} attachments",
            rule_ids=("SEC-11",),
            facts={"limit": rc.MAX_ATTACHMENTS},
        )
    return [attachment]


def annotate(cmd: rc.AnnotatePermit, ctx: PermitContext) -> Events:
    """AUD-11: in any status, closed and cancelled included, by an area authority or a safety officer (SEC-04);
    it changes neither core nor status."""
    check_status(ctx, cmd.name)
    require_role(ctx, cmd.name, *ANNOTATION_ROLES)
    text = cmd.text.strip()
    if not text:
        raise ValidationFailed("an annotation needs its text", rule_ids=("AUD-11",), facts={"field": "text"})
    return [ev.PermitAnnotated(text=text, by=ctx.person or "")]


def link_incident(cmd: rc.LinkIncident, ctx: PermitContext) -> Events:
    """RPT-04: in any status (incidents are often reported after close), by a safety officer or an integration
    principal (SEC-04 "link incident"; not a safety fact of ROLE-07). `occurred_at`, when given, is a fact time
    (TIME-02)."""
    check_status(ctx, cmd.name)
    actor = ctx.actor
    assert actor is not None
    if Role.SAFETY_OFFICER not in actor.member.roles and not is_integration(actor):
        raise Forbidden(
            f"{cmd.name} is for a safety officer or an integration principal",
            rule_ids=("RPT-04", "SEC-04"),
            facts={"actor": ctx.task_owner},
        )
    ref = cmd.incident_ref.strip()
    if not ref:
        raise ValidationFailed(
            "an incident is linked by its reference", rule_ids=("RPT-04",), facts={"field": "incident_ref"}
        )
    occurred_at = None if cmd.occurred_at is None else fact_time(ctx, cmd.occurred_at, "occurred_at")
    summary = cmd.summary.strip()
    existing = ctx.state.records.incident(ref)
    if existing is not None:
        if (existing.occurred_at, existing.summary) == (occurred_at, summary):
            return []
        raise _already_recorded("incident", "incident_ref")
    return [
        ev.IncidentLinked(
            incident_ref=ref, occurred_at=occurred_at, summary=summary, linked_by=ctx.person or ""
        )
    ]


RECORDS_HANDLERS: dict[type[Any], Any] = {
    rc.AddAttachment: add_attachment,
    rc.AnnotatePermit: annotate,
    rc.LinkIncident: link_incident,
}
