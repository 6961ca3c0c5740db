"""The pure SIMOPS model: footprints, the place index, the zone map, the interaction matrix and conflict detection
(SIM-01..07, SIM-10/11). Deterministic (SIM-12): the same footprints, zone map and matrix give the same conflicts
and the same hashes."""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from ptw_domain.canonical import sha256_hex
from ptw_domain.events.simops import ConflictFacts, Footprint, Matrix, MatrixEntry, ZoneMap

_CONFLICTS = uuid5(NAMESPACE_URL, "urn:ptw:simops-conflict")
ANY_CATEGORY = "*"
# SIM-05: place and time overlap with no matrix entry is a low co-location notice.
NO_ENTRY = ("low", "SIM-M00")


def _entry(first: str, second: str, severity: str, rule: str) -> MatrixEntry:
    return MatrixEntry(first=first, second=second, severity=severity, rule=rule)


# SIM-05 default matrix [practice], version 1 of every project until it publishes its own.
DEFAULT_MATRIX = Matrix(
    version=1,
    entries=(
        _entry("hot_work", "confined_space", "high", "SIM-M01"),
        _entry("hot_work", "line_break", "high", "SIM-M02"),
        _entry("hot_work", "chemical", "high", "SIM-M03"),
        _entry("radiography", ANY_CATEGORY, "high", "SIM-M04"),
        _entry("hot_work", "hot_work", "medium", "SIM-M05"),
        _entry("lifting", "work_at_height", "medium", "SIM-M06"),
        _entry("lifting", "excavation", "medium", "SIM-M06"),
        _entry("electrical", "excavation", "medium", "SIM-M06"),
        _entry("pressure_testing", ANY_CATEGORY, "medium", "SIM-M07"),
    ),
)
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
# SIM-10: the facts hash covers these only, so a decision survives a publication that leaves them unchanged.
HASHED_FACTS = ("rule", "severity", "older", "newer", "overlapping", "overlap_start", "overlap_end")


class Register(msgspec.Struct, frozen=True, kw_only=True, weakref=True):
    """The project's SIMOPS register: footprints by permit, decisions by conflict, and the place index."""

    project_id: UUID
    version: int
    footprints: dict[UUID, Footprint] = msgspec.field(default_factory=dict)
    decisions: dict[UUID, tuple[str, str]] = msgspec.field(
        default_factory=dict
    )  # conflict -> (hash, decision)
    index: dict[str, tuple[UUID, ...]] = msgspec.field(default_factory=dict)  # place key -> permits
    zone_map: ZoneMap = msgspec.field(default_factory=ZoneMap)
    matrix: Matrix = msgspec.field(default_factory=lambda: DEFAULT_MATRIX)


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
    """SIM-03/TIME-06: half-open intervals intersect. Plain comparisons: it runs for every candidate pair."""
    start = a.start if a.start >= b.start else b.start
    end = b.end if a.end is None or (b.end is not None and b.end < a.end) else a.end
    return (start, end) if end is None or start < end else None


@lru_cache(maxsize=32)
def _pairs(matrix: Matrix) -> dict[tuple[str, str], tuple[str, str]]:
    return {(e.first, e.second): (e.severity, e.rule) for e in matrix.entries}


def matrix_rule(matrix: Matrix, x: str, y: str) -> tuple[str, str]:
    """SIM-05, the same whichever permit comes first: the entry naming both categories, else the highest of the
    "any" entries of either (ties to the lower rule id), else the low notice."""
    pairs = _pairs(matrix)
    exact = pairs.get((x, y)) or pairs.get((y, x))
    if exact:
        return exact
    wild = [found for c in (x, y) if (found := pairs.get((c, ANY_CATEGORY)))]
    return min(wild, key=lambda sr: (-SEVERITY_RANK[sr[0]], sr[1])) if wild else NO_ENTRY


def _severity(
    register: Register, a: Footprint, b: Footprint, shared: dict[str, tuple[str, ...]]
) -> tuple[str, str]:
    if shared.get("isolations") or shared.get("energy_sources"):
        return "high", "SIM-04"  # SIM-04: a shared isolation or energy source is high whatever the categories
    return matrix_rule(register.matrix, a.category, b.category)


def adjacent_areas(zone_map: ZoneMap, a: Footprint, b: Footprint) -> tuple[str, ...]:
    """SIM-02: the pairs of areas of `a` and `b` that the zone map makes adjacent, each named once."""
    pairs = {
        " <-> ".join(sorted((x, y))) for x in a.areas for y in b.areas if y in zone_map.adjacency.get(x, ())
    }
    return tuple(sorted(pairs))


def facts_hash(facts: ConflictFacts) -> str:
    """SIM-10: SHA-256 of the canonical rule, severity, permit ids, overlapping elements and overlap interval."""
    return sha256_hex({name: getattr(facts, name) for name in HASHED_FACTS})


def older_newer(a: Footprint, b: Footprint) -> tuple[Footprint, Footprint]:
    """SIM-07: the newer is the later entry into the candidate set; ties go to the higher number."""
    return (a, b) if (a.entered_at, a.number) < (b.entered_at, b.number) else (b, a)


def conflict_between(
    register: Register, a: Footprint, b: Footprint
) -> tuple[UUID, ConflictFacts, str] | None:
    """SIM-02..05, SIM-10: the conflict of two candidates under the register's zone map and matrix, its facts and
    the facts hash, if they overlap. Time is compared first: it is cheap, and most candidates sharing a place do
    not share its time."""
    interval = _overlap(a, b)
    if interval is None:
        return None
    shared = {
        name: tuple(sorted(set(getattr(a, name)) & set(getattr(b, name))))
        for name in ("areas", "equipment", "isolations", "energy_sources")
    }
    shared["adjacent_areas"] = adjacent_areas(register.zone_map, a, b)
    shared = {k: tuple(str(v) for v in vs) for k, vs in shared.items() if vs}
    if not shared:
        return None
    older, newer = older_newer(a, b)
    severity, rule = _severity(register, a, b, shared)
    facts = ConflictFacts(
        rule=rule,
        severity=severity,
        older=older.permit_id,
        newer=newer.permit_id,
        overlapping=shared,
        overlap_start=interval[0],
        overlap_end=interval[1],
        matrix_version=register.matrix.version,
        zone_map_version=register.zone_map.version,
    )
    return conflict_id(older.permit_id, newer.permit_id, rule), facts, facts_hash(facts)


def nearby_keys(register: Register, fp: Footprint) -> list[str]:
    """The place keys to look up for `fp`: its own, and the areas the zone map makes adjacent to its areas."""
    adjacency = register.zone_map.adjacency
    return place_keys(fp) + [f"area:{n}" for area in fp.areas for n in adjacency.get(area, ())]


def candidates_near(register: Register, fp: Footprint) -> list[Footprint]:
    """The footprints sharing a place key with `fp` or in an adjacent area, from the index (never a scan of every
    permit)."""
    index, footprints = register.index, register.footprints
    # each permit once (one may be found under several keys), in the order first found, as a dict builds it
    near = dict.fromkeys(chain.from_iterable(index.get(key, ()) for key in nearby_keys(register, fp)))
    near.pop(fp.permit_id, None)
    return [footprints[permit_id] for permit_id in near]


def conflicts_of(register: Register, fp: Footprint) -> dict[UUID, tuple[ConflictFacts, str]]:
    out = {}
    for other in candidates_near(register, fp):
        found = conflict_between(register, fp, other)
        if found is not None:
            out[found[0]] = (found[1], found[2])
    return out


Conflicts = dict[UUID, tuple[ConflictFacts, str]]
# register object id -> (a weak reference to it, the conflicts of its permits computed so far)
_REGISTERED: dict[int, tuple[weakref.ref[Register], dict[UUID, Conflicts]]] = {}


def registered_conflicts(register: Register, permit_id: UUID) -> Conflicts:
    """`conflicts_of` a permit of the register, remembered with the register object. A register is immutable and
    its conflicts a function of it alone (SIM-12), so the readiness reads between two SIMOPS changes pay the pair
    checks once per permit; the memory goes with the register."""
    held = _REGISTERED.get(id(register))
    if held is None or held[0]() is not register:
        held = _REGISTERED[id(register)] = (weakref.ref(register), {})
        weakref.finalize(register, _REGISTERED.pop, id(register), None)
    known = held[1]
    found = known.get(permit_id)
    if found is None:
        fp = register.footprints.get(permit_id)
        found = known[permit_id] = conflicts_of(register, fp) if fp is not None else {}
    return found


def is_open(register: Register, cid: UUID, facts_hash: str) -> bool:
    """SIM-08: open unless an `accept_with_controls` decision exists for the current facts hash."""
    return not accepts(register.decisions.get(cid), facts_hash)


def accepts(decided: tuple[str, str] | None, facts_hash: str) -> bool:
    """SIM-08: a decision (facts hash, decision) accepts a conflict only for the facts it was made on."""
    return decided == (facts_hash, "accept_with_controls")


UNTIL_FURTHER_NOTICE = timedelta(days=36500)
