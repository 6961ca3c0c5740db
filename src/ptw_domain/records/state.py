"""The records part of a permit's state, folded from `AttachmentAdded`, `PermitAnnotated` and `IncidentLinked`."""

from __future__ import annotations

from datetime import datetime

import msgspec


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    uri: str
    sha256: str
    media_type: str
    size: int
    title: str
    added_by: str
    added_at: datetime


class Annotation(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    by: str
    at: datetime
    status: str  # the permit's status when it was written (AUD-11: closed and cancelled permits accept them)


class LinkedIncident(msgspec.Struct, frozen=True, kw_only=True):
    incident_ref: str
    occurred_at: datetime | None
    summary: str
    linked_by: str
    linked_at: datetime


class RecordsState(msgspec.Struct, frozen=True, kw_only=True):
    attachments: tuple[Attachment, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    incidents: tuple[LinkedIncident, ...] = ()

    def attachment(self, sha256: str) -> Attachment | None:
        return next((a for a in self.attachments if a.sha256 == sha256), None)

    def incident(self, incident_ref: str) -> LinkedIncident | None:
        return next((i for i in self.incidents if i.incident_ref == incident_ref), None)
