"""Publishing a project's zone map (SIM-02) or interaction matrix (SIM-05).

A publication is validated, numbered one above the version in force, recorded on the project stream and adopted
by the project's SIMOPS register, and the project's conflicts are re-evaluated under it (SIM-09): new ones
detected, changed facts updated, vanished ones cleared, all in the publication's one transaction. The
re-evaluation looks only at the footprints the change can reach: those in an area whose adjacency changed (found
through the place index) or of a category whose matrix entries changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from uuid import UUID

from ptw_domain.configuration import require_project_role
from ptw_domain.errors import ValidationFailed
from ptw_domain.events import simops as ev
from ptw_domain.events.base import DomainEvent, EventMetadata
from ptw_domain.findings import Finding, found
from ptw_domain.handlers import Change, at_of
from ptw_domain.roles import Role
from ptw_domain.simops import commands as sc
from ptw_domain.simops.model import ANY_CATEGORY, SEVERITY_RANK, Register, conflicts_of
from ptw_domain.simops.step import conflict_changes
from ptw_domain.simops.streams import apply_footprint, register_id
from ptw_domain.store.streams import Stream, append
from ptw_domain.templates.settings import Category
from ptw_domain.workbench import Workbench

# SEC-04: the zone map is the project admin's; the matrix also the safety officer's.
ZONE_MAP_ROLES = (Role.PROJECT_ADMIN,)
MATRIX_ROLES = (Role.PROJECT_ADMIN, Role.SAFETY_OFFICER)
# SIM-05: SIM-M00 is the notice for pairs without an entry, so an entry names SIM-M01..SIM-M99.
MATRIX_RULE = re.compile(r"^SIM-M(0[1-9]|[1-9][0-9])$")
CATEGORIES = frozenset(Category)


def zone_map_findings(adjacency: Mapping[str, Sequence[str]]) -> list[Finding]:
    """SIM-02: areas are named, as on permits, and none is adjacent to itself."""
    out: list[Finding] = []
    for area, neighbours in adjacency.items():
        field = f"adjacency.{area}"
        if not area.strip() or not all(n.strip() for n in neighbours):
            out += found("SIM-02", "area_unnamed", "an area name is empty", {"field": field})
        if area in neighbours:
            out += found(
                "SIM-02",
                "adjacent_to_itself",
                f"area {area!r} is listed as adjacent to itself",
                {"field": field, "value": area},
            )
    return out


def symmetric(adjacency: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Adjacency goes both ways: B is adjacent to A when A lists B. Sorted, so equal maps encode equally."""
    pairs = {(a, n) for a, neighbours in adjacency.items() for n in neighbours}
    pairs |= {(n, a) for a, n in pairs}
    areas = sorted({a for a, _ in pairs})
    return {a: tuple(sorted(n for x, n in pairs if x == a)) for a in areas}


def matrix_findings(entries: Sequence[ev.MatrixEntry]) -> list[Finding]:
    """SIM-05: known categories ("*" = any, second only), severities low/medium/high, a matrix rule id, and one
    entry per category pair."""
    out: list[Finding] = []
    pairs: set[frozenset[str]] = set()
    for i, e in enumerate(entries):
        field = f"entries[{i}]"
        for name, value, allowed in (
            ("first", e.first, CATEGORIES),
            ("second", e.second, CATEGORIES | {ANY_CATEGORY}),
        ):
            if value not in allowed:
                out += found(
                    "SIM-05",
                    "unknown_category",
                    f"{value!r} is not a permit category",
                    {"field": f"{field}.{name}", "value": value},
                )
        if e.severity not in SEVERITY_RANK:
            out += found(
                "SIM-05",
                "unknown_severity",
                "severity is one of low, medium, high",
                {"field": f"{field}.severity", "value": e.severity},
            )
        if not MATRIX_RULE.match(e.rule):
            out += found(
                "SIM-05",
                "invalid_matrix_rule",
                "rule is a matrix rule id SIM-M01..SIM-M99",
                {"field": f"{field}.rule", "value": e.rule},
            )
        pair = frozenset((e.first, e.second))
        if pair in pairs:
            out += found(
                "SIM-05",
                "duplicate_pair",
                f"the pair {e.first} × {e.second} has more than one entry",
                {"field": field},
            )
        pairs.add(pair)
    return out


def _refuse(findings: list[Finding]) -> None:
    if findings:
        raise ValidationFailed(
            "; ".join(f.message for f in findings),
            blockers=findings,
            facts={"field": findings[0].facts["field"]},
        )


def _register(bench: Workbench, project_id: UUID) -> tuple[Stream[Register] | None, Register]:
    stream = bench.stream(register_id(project_id), bench.written)
    return stream, stream.state if stream else Register(project_id=project_id, version=0)


def publish_zone_map(bench: Workbench, cmd: sc.PublishZoneMap) -> Change:
    require_project_role(cmd.actor, cmd.name, *ZONE_MAP_ROLES)
    _refuse(zone_map_findings(cmd.adjacency))
    adjacency = symmetric(cmd.adjacency)
    stream, current = _register(bench, cmd.project_id)
    version = current.zone_map.version + 1
    published = ev.ZoneMapPublished(
        project_id=cmd.project_id, version=version, adjacency=adjacency, published_by=cmd.actor.person_id
    )
    adopted = ev.SimopsZoneMapAdopted(
        project_id=cmd.project_id, zone_map=ev.ZoneMap(version=version, adjacency=adjacency)
    )
    return _publish(bench, cmd, stream, current, published, adopted)


def publish_matrix(bench: Workbench, cmd: sc.PublishSimopsMatrix) -> Change:
    require_project_role(cmd.actor, cmd.name, *MATRIX_ROLES)
    _refuse(matrix_findings(cmd.entries))
    stream, current = _register(bench, cmd.project_id)
    version = current.matrix.version + 1
    published = ev.SimopsMatrixPublished(
        project_id=cmd.project_id, version=version, entries=cmd.entries, published_by=cmd.actor.person_id
    )
    adopted = ev.SimopsMatrixAdopted(
        project_id=cmd.project_id, matrix=ev.Matrix(version=version, entries=cmd.entries)
    )
    return _publish(bench, cmd, stream, current, published, adopted)


def affected(before: Register, after: Register) -> list[UUID]:
    """The candidates whose conflicts a publication can change, in a stable order (SIM-12)."""
    old, new = before.zone_map.adjacency, after.zone_map.adjacency
    areas = {a for a in old.keys() | new.keys() if old.get(a) != new.get(a)}
    permits = {p for a in areas for p in after.index.get(f"area:{a}", ())}
    changed = set(before.matrix.entries) ^ set(after.matrix.entries)
    categories = {c for e in changed for c in (e.first, e.second)}
    if categories:
        permits |= {p for p, fp in after.footprints.items() if fp.category in categories}
    return sorted(permits)


def reevaluate(
    before: Register, after: Register
) -> tuple[dict[UUID, tuple[ev.ConflictFacts, str]], dict[UUID, tuple[ev.ConflictFacts, str]]]:
    """SIM-09: the affected candidates' conflicts under the configuration before and after the publication."""
    old: dict[UUID, tuple[ev.ConflictFacts, str]] = {}
    new: dict[UUID, tuple[ev.ConflictFacts, str]] = {}
    for permit_id in affected(before, after):
        fp = after.footprints[permit_id]
        old.update(conflicts_of(before, fp))
        new.update(conflicts_of(after, fp))
    return old, new


def _publish(
    bench: Workbench,
    cmd: sc.PublishZoneMap | sc.PublishSimopsMatrix,
    register_stream: Stream[Register] | None,
    before: Register,
    published: DomainEvent,
    adopted: ev.RegisterEvent,
) -> Change:
    project = bench.project(cmd.project_id, bench.written)
    after = apply_footprint(before, adopted)
    old, new = reevaluate(before, after)
    loaded = {cid: bench.stream(cid, bench.written) for cid in sorted(old.keys() | new.keys())}
    reason = f"re-evaluated under zone map v{after.zone_map.version} and matrix v{after.matrix.version}"
    changes = conflict_changes(
        after, old, new, {cid: s.state if s else None for cid, s in loaded.items()}, cleared_reason=reason
    )
    now = at_of(cmd)

    def meta(stream_type: str) -> EventMetadata:
        return bench.metadata(cmd, stream_type, project=project.state)

    main = project.append([published], metadata=meta("project"), at=now, new_id=bench.new_id)
    adopting = append(
        register_stream,
        [adopted],
        metadata=meta("simops_register"),
        at=now,
        new_id=bench.new_id,
        stream_id=register_id(cmd.project_id),
    )
    conflicts = [
        append(
            loaded[cid], changes[cid], metadata=meta("conflict"), at=now, new_id=bench.new_id, stream_id=cid
        )
        for cid in sorted(changes)
    ]
    return Change(streams=[main, adopting, *conflicts], main=main)
