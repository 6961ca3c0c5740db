"""Checks of one offline command before anything is loaded: its payload (SEC-12), what it may target (SYNC-01),
its device time and fact times (SYNC-02, TIME-02), and the SYNC-11 core hash placeholder."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from ptw_domain import commands as c
from ptw_domain.events.project import ProjectSettings
from ptw_domain.events.sync import SyncOutcome
from ptw_domain.isolation import commands as ic
from ptw_domain.sync import outcomes as out
from ptw_domain.sync.batch import CORE_HASH_PLACEHOLDER, SyncItem

# SYNC-01: what a command may target offline — a permit (or a temporary reference to one) or an isolation.
ISOLATION_ACTS = (ic.IsolatePoint, ic.VerifyIsolation, ic.DeisolatePoint, ic.TransferIsolationToOperations)


def target_field(command: c.Command) -> str | None:
    """The field naming the command's target; None for a create."""
    if isinstance(command, c.PermitCommand):
        return "permit_id"
    if isinstance(command, ISOLATION_ACTS):
        return "isolation_id"
    return None


def precheck(item: SyncItem, now: datetime, settings: ProjectSettings) -> SyncOutcome | None:
    """The rejection of a command that cannot run whatever the server holds, or None; the clock skew and the
    offline age allowed are the project's settings when the batch runs (SYNC-02)."""
    if item.invalid is not None:
        return out.rejected(
            item,
            "validation_failed",
            item.invalid.detail,
            *item.invalid.rule_ids,
            invalid_fields=item.invalid.fields,
        )
    command = item.command
    if command is None or not (isinstance(command, c.CreatePermit) or target_field(command)):
        detail = f"{item.name} is not an offline command: a batch creates permits and acts on permits and isolations"
        return out.rejected(item, "validation_failed", detail, "SYNC-01", invalid_fields=("command",))
    if item.device_time.tzinfo is None:
        return out.rejected(
            item, "validation_failed", "instants carry an offset", "SEC-11", invalid_fields=("device_time",)
        )
    latest = now + timedelta(minutes=settings.clock_skew_minutes)
    if item.device_time > latest:
        detail = f"device_time {item.device_time.isoformat()} is later than the server's {now.isoformat()}"
        return out.rejected(item, "clock_skew", detail, "SYNC-02", "TIME-02", invalid_fields=("device_time",))
    if item.device_time < now - timedelta(hours=settings.offline_max_age_hours):
        detail = f"device_time is more than {settings.offline_max_age_hours} hours old"
        return out.rejected(item, "too_old", detail, "SYNC-02", invalid_fields=("device_time",))
    future = future_fact(command, latest)
    if future is not None:
        detail = f"{future} is later than the server's time"
        return out.rejected(item, "clock_skew", detail, "SYNC-02", "TIME-02", invalid_fields=(future,))
    return None


def future_fact(value: Any, latest: datetime, path: str = "") -> str | None:
    """TIME-02: the first fact time (`*_at`) of the payload later than `latest`, as a dotted path."""
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            if not path and name in ("at", "actor", "context"):
                continue
            field, inner = f"{path}.{name}" if path else name, getattr(value, name)
            late = isinstance(inner, datetime) and inner.tzinfo is not None and inner > latest
            if late and name.endswith("_at"):
                return field
            found = future_fact(inner, latest, field)
            if found is not None:
                return found
    elif isinstance(value, tuple | list):
        for index, inner in enumerate(value):
            found = future_fact(inner, latest, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _signatures(command: c.Command) -> list[tuple[str, Any]]:
    found = []
    signature = getattr(command, "signature", None)
    if signature is not None:
        found.append(("signature", signature))
    acceptance = getattr(command, "acceptance", None)
    if acceptance is not None:
        found.append(("acceptance", acceptance.signature))
    return found


def has_placeholder(command: c.Command) -> bool:
    """SYNC-11: a signature naming the core hash the server computes rather than one the device reviewed."""
    return any(sig.core_hash == CORE_HASH_PLACEHOLDER for _, sig in _signatures(command))


def bind_core_hash(command: c.Command, core_hash: str) -> c.Command:
    """SYNC-11: bind placeholder signatures of a permit made earlier in the batch to its current core hash."""
    changes: dict[str, Any] = {}
    for name, sig in _signatures(command):
        if sig.core_hash != CORE_HASH_PLACEHOLDER:
            continue
        bound = msgspec.structs.replace(sig, core_hash=core_hash)
        holder = getattr(command, name)
        changes[name] = bound if name == "signature" else msgspec.structs.replace(holder, signature=bound)
    return msgspec.structs.replace(command, **changes) if changes else command
