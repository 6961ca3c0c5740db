"""Signatures (SIG-02): stored inside the event of the act they sign, never on their own (SIG-03)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec


class SigningPoint(StrEnum):
    """SIG-01 signing points of the permit workflow handled by the lifecycle."""

    REQUESTOR = "requestor"
    VERIFIER = "verifier"
    APPROVER = "approver"
    ISSUER = "issuer"
    ACCEPTOR = "acceptor"
    EXTENSION = "extension"
    HANDOVER = "handover"
    HAND_BACK = "hand_back"
    CLOSE = "close"


class ImageRef(msgspec.Struct, frozen=True, kw_only=True):
    uri: str
    sha256: str


class SignatureInput(msgspec.Struct, frozen=True, kw_only=True):
    """What a signer supplies: the core hash they reviewed (SIG-05) and fresh re-authentication (SIG-04).

    `reauthenticated_at` is a step-up assertion; without it the token's `auth_time` is the evidence.
    """

    core_hash: str
    reauthenticated_at: datetime | None = None
    method: str | None = None
    image: ImageRef | None = None


class Signature(msgspec.Struct, frozen=True, kw_only=True):
    """SIG-02: who signed what, when, on which version and core hash, with which evidence."""

    signature_id: UUID
    point: SigningPoint
    signer: str
    role: str
    authority_level: int
    on_behalf_of: str | None = None
    signed_at: datetime
    permit_id: UUID
    permit_version: int
    core_hash: str
    cycle: int
    intent: str
    reauthenticated_at: datetime
    reauth_method: str
    competency_ids: tuple[str, ...] = ()
    client_id: str | None = None
    device_id: str | None = None
    image: ImageRef | None = None
