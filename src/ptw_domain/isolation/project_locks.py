"""LOCK-06: the lock ids currently applied in a project, in one register stream per project.

A command that applies or frees locks — a personal lock on a permit (`PersonalLockApplied` / `PersonalLockRemoved`),
the locks of an isolation (`PointIsolated` / `PointDeisolated`) — records the change in its project's register in
the same save. A lock id applied anywhere in the project refuses another application (`lock_in_use`) without
reading any other stream, and two commands applying one id at once write the same register version: one commits,
the other conflicts, is decided again on the fresh register and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
from msgspec.structs import replace

from ptw_domain.events import isolation as ev
from ptw_domain.events.base import Recorded
from ptw_domain.findings import Finding

_REGISTERS = uuid5(NAMESPACE_URL, "urn:ptw:project-locks")

# The acts whose events change the lock ids applied in a project.
LOCK_ACTS = (ev.PersonalLockApplied, ev.PointIsolated, ev.PersonalLockRemoved, ev.PointDeisolated)


@lru_cache(maxsize=4096)
def project_locks_id(project_id: UUID) -> UUID:
    return uuid5(_REGISTERS, str(project_id))


class ProjectLocks(msgspec.Struct, frozen=True, kw_only=True):
    project_id: UUID
    version: int
    applied: dict[str, UUID] = msgspec.field(
        default_factory=dict
    )  # lock id -> the permit or isolation holding it


def apply_lock_event(locks: ProjectLocks, event: ev.ProjectLockEvent) -> ProjectLocks:
    """The register after one event (used by the fold and by a decision looking ahead)."""
    if isinstance(event, ev.LockIdsApplied):
        return replace(locks, applied={**locks.applied, **dict.fromkeys(event.lock_ids, event.holder)})
    freed = set(event.lock_ids)
    return replace(
        locks, applied={k: h for k, h in locks.applied.items() if not (k in freed and h == event.holder)}
    )


def evolve_project_locks(state: ProjectLocks | None, recorded: Recorded[Any]) -> ProjectLocks:
    locks = state or ProjectLocks(project_id=recorded.payload.project_id, version=0)
    return replace(apply_lock_event(locks, recorded.payload), version=recorded.version)


def register_events(
    locks: ProjectLocks, recorded: Iterable[Recorded[Any]]
) -> tuple[list[ev.ProjectLockEvent], list[Finding]]:
    """The register events for the lock acts recorded by one command, in order, and a `lock_in_use` finding for
    each id they apply that is applied in the project already (by any permit or isolation, this one included).
    De-isolation frees every id the isolation holds; a removed personal lock frees its id."""
    events: list[ev.ProjectLockEvent] = []
    findings: list[Finding] = []
    for r in recorded:
        p, holder = r.payload, r.stream_id
        event: ev.ProjectLockEvent
        if isinstance(p, ev.PersonalLockApplied | ev.PointIsolated):
            ids = (p.lock_id,) if isinstance(p, ev.PersonalLockApplied) else tuple(dict.fromkeys(p.lock_ids))
            findings += [
                Finding(
                    rule="LOCK-06",
                    code="lock_in_use",
                    message=f"lock {lock_id} is already applied",
                    facts={"lock_id": lock_id, "applied_on": str(locks.applied[lock_id])},
                )
                for lock_id in ids
                if lock_id in locks.applied
            ]
            event = ev.LockIdsApplied(project_id=locks.project_id, holder=holder, lock_ids=ids)
        elif isinstance(p, ev.PersonalLockRemoved):
            event = ev.LockIdsFreed(project_id=locks.project_id, holder=holder, lock_ids=(p.lock_id,))
        elif isinstance(p, ev.PointDeisolated):
            held = tuple(k for k, h in locks.applied.items() if h == holder)
            event = ev.LockIdsFreed(project_id=locks.project_id, holder=holder, lock_ids=held)
        else:
            continue
        if event.lock_ids:
            events.append(event)
            locks = apply_lock_event(locks, event)
    return events, findings
