"""SIG-12 site-presence evidence carried by activation and resume: proof that issue and acceptance happen at the
work site, not from an office [HSG250 ¶51(b)].

Two kinds, told apart by `kind`: a scan of a registered location or equipment code by the issuer or the acceptor,
or a co-presence attestation naming both. The evidence is validated by the execution handlers (a required input,
RDY-06) and recorded on `PermitActivated` / `PermitResumed`, so an audit can see how presence was shown.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from ptw_domain.permit.content import Short


class ScanEvidence(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="scan", tag_field="kind"
):
    """A scan of the location QR code or equipment tag `code`, taken by `scanned_by` at `scanned_at`."""

    code: Short
    scanned_by: Short
    scanned_at: datetime


class CoPresenceAttestation(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="co_presence", tag_field="kind"
):
    """The issuer and the acceptor attest together that both stood at the work site at `attested_at`; both sign
    the act that carries it, so the attestation is signed by both."""

    issuer: Short
    acceptor: Short
    attested_at: datetime


PresenceEvidence = ScanEvidence | CoPresenceAttestation
