"""Commands of the records area: attach a document, annotate, link an incident (domain.md §20)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta

from ptw_domain.commands import PermitCommand
from ptw_domain.people.commands import Sha256
from ptw_domain.permit.content import LongText, Short

# Object stores take one upload of at most 5 GiB; a larger declared size is a mistake, not a document [choice].
MAX_ATTACHMENT_BYTES = 5 * 1024**3
MAX_ATTACHMENTS = 50  # SEC-11, per permit

# Where an attachment may live: a web address or a URN of a document system; schemes in lower case (RFC 3986
# canonical form). Long enough for a document system's address, like a competency's evidence URI.
URI_PATTERN = r"^(https?://[^\s/?#]+[^\s]*|urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+)$"
Uri = Annotated[str, Meta(max_length=2_000, pattern=URI_PATTERN)]
# RFC 6838 type/subtype (restricted names), without parameters.
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
MediaType = Annotated[str, Meta(max_length=255, pattern=MEDIA_TYPE_PATTERN)]
ByteSize = Annotated[int, Meta(gt=0, le=MAX_ATTACHMENT_BYTES)]


class AddAttachment(PermitCommand, frozen=True, kw_only=True):
    """§4.1: a document kept elsewhere (certificate, photo, drawing), pinned by the SHA-256 of its bytes."""

    uri: Uri
    sha256: Sha256
    media_type: MediaType
    size: ByteSize
    title: Short = ""


class AnnotatePermit(PermitCommand, frozen=True, kw_only=True):
    """AUD-11: a note on the record, in any status; a correction is a new annotation (AUD-02)."""

    text: LongText


class LinkIncident(PermitCommand, frozen=True, kw_only=True):
    """RPT-04: link an incident, by the incident system's reference, to the permit it happened under."""

    incident_ref: Short
    occurred_at: datetime | None = None
    summary: LongText = ""
