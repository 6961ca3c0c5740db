"""Canonical JSON and SHA-256, shared by the core hash (SIG-06), template hashes (TPL-02) and the chain (AUD-03).

Canonical means UTF-8, keys sorted at every depth, no insignificant whitespace, and instants in RFC 3339 UTC
(callers normalise instants to UTC before they reach an event).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder(order="sorted")


def canonical_json(value: Any) -> bytes:
    """Encode a value (Structs, mappings, lists, scalars) in the one canonical form."""
    return _encoder.encode(value)


def sha256_hex(value: Any) -> str:
    """SHA-256 hex digest of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
