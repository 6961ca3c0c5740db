"""The pure SIMOPS model: footprints, the place index, the interaction matrix and conflict detection (SIM-01..07,
SIM-10/11). Deterministic (SIM-12): the same footprints give the same conflicts and the same hashes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from ptw_domain.canonical import sha256_hex
from ptw_domain.events.simops import ConflictFacts, Footprint

_CONFLICTS = uuid5(NAMESPACE_URL, "urn:ptw:simops-conflict")
MATRIX_VERSION = 1

# SIM-05 default matrix [practice]: (category, category) -> (severity, rule); "*" is any category.
MATRIX: dict[tuple[str, str], tuple[str, str]] = {
    ("hot_work", "confined_space"): ("high", "SIM-M01"),
    ("hot_work", "line_break"): ("high", "SIM-M02"),
    ("hot_work", "chemical"): ("high", "SIM-M03"),
    ("radiography", "*"): ("high", "SIM-M04"),
    ("hot_work", "hot_work"): ("medium", "SIM-M05"),
    ("lifting", "work_at_height"): ("medium", "SIM-M06"),
    ("lifting", "excavation"): ("medium", "SIM-M06"),
    ("electrical", "excavation"): ("medium", "SIM-M06"),
    ("pressure_testing", "*"): ("medium", "SIM-M07"),
}
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


class Register(msgspec.Struct, frozen=True, kw_only=True):
    """The project's SIMOPS register: footprints by permit, decisions by conflict, and the place index."""

    project_id: UUID
    version: int
    footprints: dict[UUID, Footprint] = msgspec.field(default_factory=dict)
    decisions: dict[UUID, tuple[str, str]] = msgspec.field(
        default_factory=dict
    )  # conflict -> (hash, decision)
    index: dict[str, tuple[UUID, ...]] = msgspec.field(default_factory=dict)  # place key -> permits


def place_keys(fp: Footprint) -> list[str]:
    return (
        [f"area:{a}" for a in fp.areas]
        + [f"equipment:{e}" for e in fp.equipment]
        + [f"isolation:{i}" for i in fp.isolations]
        + [f"energy:{s}" for s in fp.energy_sources]
    )


def unindexed(index: dict[str, tuple[UUID, ...]], fp: Footprint | None) -> dict[str, tuple[UUID, ...]]:
    """The place index without `fp` (only its own keys are touched)."""
    out = dict(index)
    for key in place_keys(fp) if fp else ():
        remaining = tuple(p for p in out.get(key, ()) if p != fp.permit_id)  # type: ignore[union-attr]
        if remaining:
            out[key] = remaining
        else:
            out.pop(key, None)
    return out


def indexed(
    index: dict[str, tuple[UUID, ...]], fp: Footprint, *, remove: Footprint | None = None
) -> dict[str, tuple[UUID, ...]]:
    """The place index with `remove`'s keys dropped and `fp`'s added (copy-on-write of the touched keys only)."""
    out = unindexed(index, remove)
    for key in place_keys(fp):
        if fp.permit_id not in out.get(key, ()):
            out[key] = (*out.get(key, ()), fp.permit_id)
    return out


def conflict_id(older: UUID, newer: UUID, rule: str) -> UUID:
    """SIM-11: derived from (older, newer, rule), so re-detection is idempotent."""
    return uuid5(_CONFLICTS, f"{older}:{newer}:{rule}")


def _overlap(a: Footprint, b: Footprint) -> tuple[datetime, datetime | None] | None:
    """SIM-03/TIME-06: half-open intervals intersect."""
    start = max(a.start, b.start)
    ends = [e for e in (a.end, b.end) if e is not None]
    end = min(ends) if ends else None
    return (start, end) if end is None or start < end else None


def _severity(a: Footprint, b: Footprint, shared: dict[str, tuple[str, ...]]) -> tuple[str, str]:
    if shared.get("isolations") or shared.get("energy_sources"):
        return "high", "SIM-04"  # SIM-04: a shared isolation or energy source is high whatever the categories
    for x, y in ((a.category, b.category), (b.category, a.category)):
        for key in ((x, y), (x, "*")):
            if key in MATRIX:
                return MATRIX[key]
    return "low", "SIM-M00"


def older_newer(a: Footprint, b: Footprint) -> tuple[Footprint, Footprint]:
    """SIM-07: the newer is the later entry into the candidate set; ties go to the higher number."""
    return (a, b) if (a.entered_at, a.number) < (b.entered_at, b.number) else (b, a)


def conflict_between(a: Footprint, b: Footprint) -> tuple[UUID, ConflictFacts, str] | None:
    """SIM-02..05, SIM-10: the conflict of two candidates, its facts and the facts hash, if they overlap."""
    shared = {
        name: tuple(sorted(set(getattr(a, name)) & set(getattr(b, name))))
        for name in ("areas", "equipment", "isolations", "energy_sources")
    }
    shared = {k: tuple(str(v) for v in vs) for k, vs in shared.items() if vs}
    if not shared:
        return None
    interval = _overlap(a, b)
    if interval is None:
        return None
    older, newer = older_newer(a, b)
    severity, rule = _severity(a, b, shared)
    facts = ConflictFacts(
        rule=rule,
        severity=severity,
        older=older.permit_id,
        newer=newer.permit_id,
        overlapping=shared,
        overlap_start=interval[0],
        overlap_end=interval[1],
    )
    return conflict_id(older.permit_id, newer.permit_id, rule), facts, sha256_hex(facts)


def candidates_near(register: Register, fp: Footprint) -> Iterable[Footprint]:
    """The footprints sharing a place key with `fp`, from the index (never a scan of every permit)."""
    seen: set[UUID] = set()
    for key in place_keys(fp):
        for permit_id in register.index.get(key, ()):
            if permit_id != fp.permit_id and permit_id not in seen:
                seen.add(permit_id)
                yield register.footprints[permit_id]


def conflicts_of(register: Register, fp: Footprint) -> dict[UUID, tuple[ConflictFacts, str]]:
    out = {}
    for other in candidates_near(register, fp):
        found = conflict_between(fp, other)
        if found is not None:
            out[found[0]] = (found[1], found[2])
    return out


def is_open(register: Register, cid: UUID, facts_hash: str) -> bool:
    """SIM-08: open unless an `accept_with_controls` decision exists for the current facts hash."""
    return not accepts(register.decisions.get(cid), facts_hash)


def accepts(decided: tuple[str, str] | None, facts_hash: str) -> bool:
    """SIM-08: a decision (facts hash, decision) accepts a conflict only for the facts it was made on."""
    return decided == (facts_hash, "accept_with_controls")


UNTIL_FURTHER_NOTICE = timedelta(days=36500)
