"""Records kept on the permit stream beside its lifecycle (domain.md §20 "close-out and records"): attachments
(§4.1 admin field, a safety fact in §19), annotations (AUD-11) and linked incidents (RPT-04)."""

from __future__ import annotations

from datetime import datetime

from ptw_domain.events.permit import PermitEvent


class AttachmentAdded(PermitEvent, frozen=True, kw_only=True):
    """A document kept elsewhere, named by its URI and pinned by its SHA-256 (the content is never stored)."""

    uri: str
    sha256: str
    media_type: str
    size: int
    title: str = ""
    added_by: str


class PermitAnnotated(PermitEvent, frozen=True, kw_only=True):
    """AUD-11/AUD-02: a note added to the record; it changes neither core nor status."""

    text: str
    by: str


class IncidentLinked(PermitEvent, frozen=True, kw_only=True):
    """RPT-04: an incident of the incident system (its reference) linked to the permit; counted by RPT-02."""

    incident_ref: str
    occurred_at: datetime | None = None
    summary: str = ""
    linked_by: str
