"""Folding the records events into `PermitState.records`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from ptw_domain.events import records as ev
from ptw_domain.events.base import Recorded
from ptw_domain.permit.state import PermitState
from ptw_domain.records.state import Annotation, Attachment, LinkedIncident


def _attached(s: PermitState, e: ev.AttachmentAdded, r: Recorded[Any]) -> PermitState:
    attachment = Attachment(
        uri=e.uri,
        sha256=e.sha256,
        media_type=e.media_type,
        size=e.size,
        title=e.title,
        added_by=e.added_by,
        added_at=r.occurred_at,
    )
    return replace(s, records=replace(s.records, attachments=(*s.records.attachments, attachment)))


def _annotated(s: PermitState, e: ev.PermitAnnotated, r: Recorded[Any]) -> PermitState:
    note = Annotation(text=e.text, by=e.by, at=r.occurred_at, status=s.status.value)
    return replace(s, records=replace(s.records, annotations=(*s.records.annotations, note)))


def _linked(s: PermitState, e: ev.IncidentLinked, r: Recorded[Any]) -> PermitState:
    incident = LinkedIncident(
        incident_ref=e.incident_ref,
        occurred_at=e.occurred_at,
        summary=e.summary,
        linked_by=e.linked_by,
        linked_at=r.occurred_at,
    )
    return replace(s, records=replace(s.records, incidents=(*s.records.incidents, incident)))


RECORDS_EVOLVERS: dict[type[Any], Callable[[Any, Any, Recorded[Any]], PermitState]] = {
    ev.AttachmentAdded: _attached,
    ev.PermitAnnotated: _annotated,
    ev.IncidentLinked: _linked,
}
