"""RM-10 registers as typed queries: isolations (open by default) with their states, locks, linked permits and
holder; the personal locks on the project's lockouts; SIMOPS conflicts by state and severity. RM-04 paging."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, Connection, and_, exists, func, select

from ptw_domain.isolation.handling import point_id_for
from ptw_domain.isolation.state import IsolationStatus
from ptw_domain.permit.status import HOLDING, Status
from ptw_domain.simops.model import SEVERITY_RANK
from ptw_projections import params
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide

NAME = "registers"
OPEN_STATES = ("assigned", "isolated", "verified")
CONFLICT_STATES = ("open", "accepted", "cleared")
_HOLDING = sorted(s.value for s in HOLDING)


class PermitRef(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    number: str | None
    status: Status | None


class LinkedPermit(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    number: str | None
    status: Status | None
    required: bool
    holding: bool  # LIFE-03: the permit still depends on the isolation


class PersonalLock(msgspec.Struct, frozen=True, kw_only=True):
    """LOCK-01: a crew worker's lock on a permit's group lockout."""

    lock_id: str
    permit: PermitRef
    worker_id: UUID
    worker_name: str | None
    person_id: str | None
    applied_at: datetime


class IsolationItem(msgspec.Struct, frozen=True, kw_only=True):
    """One isolation; the point as it was when the isolation opened; `personal_locks` are those on the lockout
    of any linked permit (what ISO-12 waits for)."""

    id: UUID
    point_id: UUID
    point_code: str
    point_type: str
    energy_type: str
    energy_source_id: str | None
    area: str
    equipment_tag: str | None
    location: str
    achievable_category: str
    achieved_category: str | None
    status: IsolationStatus
    in_place: bool
    lock_ids: list[str]
    opened_at: datetime
    isolated_by: str | None
    isolated_at: datetime | None
    verified_by: str | None
    verified_at: datetime | None
    ended_by: str | None
    ended_at: datetime | None
    linked_permits: list[LinkedPermit]
    held_by_permit: bool  # a linked permit is holding (ISO-11)
    operations_held: bool  # ISO-14
    operations_held_by: str | None
    operations_held_at: datetime | None
    operations_reason: str | None
    orphan: bool  # RPT-03: in place, no holding permit, not operations-held
    personal_locks: list[PersonalLock]
    version: int


class IsolationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[IsolationItem]
    page: int
    page_size: int
    total: int
    as_of_position: int


class LockIsolation(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    point_code: str
    status: IsolationStatus


class LockItem(msgspec.Struct, frozen=True, kw_only=True):
    lock_id: str
    permit: PermitRef
    worker_id: UUID
    worker_name: str | None
    person_id: str | None
    applied_at: datetime
    isolations: list[LockIsolation]  # the isolations linked to the permit the lock protects


class LockPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[LockItem]
    page: int
    page_size: int
    total: int
    as_of_position: int


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """SIM-08: the latest decision; `current` when it was made for the conflict's current facts."""

    decision: str
    controls: str
    by: str
    at: datetime | None
    facts_hash: str
    current: bool


class ConflictItem(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    rule: str
    severity: str
    state: str  # open | accepted | cleared
    older: PermitRef
    newer: PermitRef
    facts_hash: str
    overlap_start: datetime
    overlap_end: datetime | None
    matrix_version: int  # SIM-10: the SIMOPS matrix and zone map the current facts were judged under
    zone_map_version: int
    detected_at: datetime
    updated_at: datetime
    cleared_reason: str | None
    latest_decision: Decision | None
    version: int


class ConflictPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ConflictItem]
    page: int
    page_size: int
    total: int
    as_of_position: int


def choices(parameter: str, value: str | None, allowed: Iterable[str], default: Iterable[str]) -> list[str]:
    """A comma list of allowed values (or `all`); None gives the default."""
    known = list(allowed)
    if value is None:
        return list(default)
    chosen = [v.strip().lower() for v in value.split(",") if v.strip()]
    if "all" in chosen:
        return known
    for v in chosen:
        if v not in known:
            raise InvalidQuery(parameter, f"unknown value {v!r}; use {', '.join([*known, 'all'])}")
    if not chosen:
        raise InvalidQuery(parameter, "give at least one value")
    return list(dict.fromkeys(chosen))


def isolation_register(
    reads: ReadSide,
    project_id: UUID,
    *,
    state: str | None = None,
    point: str | None = None,
    permit: UUID | None = None,
    orphan: bool | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> IsolationPage:
    """RM-10: isolations in `state` (a comma list of ISO-04 states or `all`; default the open ones)."""
    v = reads.views(NAME)
    i, links, permits = v["register_isolations"], v["register_isolation_links"], v["register_permits"]
    number, size = params.paging(page, page_size)
    states = choices("state", state, (s.value for s in IsolationStatus), OPEN_STATES)
    held = exists().where(
        links.c.isolation_id == i.c.isolation_id,
        permits.c.permit_id == links.c.permit_id,
        permits.c.status.in_(_HOLDING),
    )
    is_orphan = and_(i.c.in_place.is_(True), i.c.operations_held_by.is_(None), ~held)
    where: list[ColumnElement[bool]] = [i.c.project_id == project_id, i.c.status.in_(states)]
    if point is not None:
        if not point.strip():
            raise InvalidQuery("point", "give a point code")
        where.append(i.c.point_id == point_id_for(project_id, point))
    if permit is not None:
        where.append(exists().where(links.c.isolation_id == i.c.isolation_id, links.c.permit_id == permit))
    if orphan is not None:
        where.append(is_orphan if orphan else ~is_orphan)
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        total = conn.execute(select(func.count()).select_from(i).where(*where)).scalar_one()
        rows = conn.execute(
            select(i, held.label("held"))
            .where(*where)
            .order_by(i.c.point_code, i.c.opened_at, i.c.isolation_id)
            .limit(size)
            .offset((number - 1) * size)
        ).all()
        linked = _links(conn, reads, project_id, [r.isolation_id for r in rows])
        locks = _locks(conn, reads, project_id, {p.id for ps in linked.values() for p in ps})
    items = [_isolation(r, linked.get(r.isolation_id, []), locks) for r in rows]
    return IsolationPage(items=items, page=number, page_size=size, total=total, as_of_position=position)


def _isolation(r: Any, linked: list[LinkedPermit], locks: dict[UUID, list[PersonalLock]]) -> IsolationItem:
    operations_held = r.operations_held_by is not None
    return IsolationItem(
        id=r.isolation_id,
        point_id=r.point_id,
        point_code=r.point_code,
        point_type=r.point_type,
        energy_type=r.energy_type,
        energy_source_id=r.energy_source_id,
        area=r.area,
        equipment_tag=r.equipment_tag,
        location=r.location,
        achievable_category=r.achievable_category,
        achieved_category=r.achieved_category,
        status=IsolationStatus(r.status),
        in_place=r.in_place,
        lock_ids=msgspec.json.decode(r.lock_ids, type=list[str]),
        opened_at=r.opened_at,
        isolated_by=r.isolated_by,
        isolated_at=r.isolated_at,
        verified_by=r.verified_by,
        verified_at=r.verified_at,
        ended_by=r.ended_by,
        ended_at=r.ended_at,
        linked_permits=linked,
        held_by_permit=bool(r.held),
        operations_held=operations_held,
        operations_held_by=r.operations_held_by,
        operations_held_at=r.operations_held_at,
        operations_reason=r.operations_reason,
        orphan=r.in_place and not r.held and not operations_held,
        personal_locks=[lock for p in linked for lock in locks.get(p.id, [])],
        version=r.version,
    )


def _links(
    conn: Connection, reads: ReadSide, project_id: UUID, ids: list[UUID]
) -> dict[UUID, list[LinkedPermit]]:
    v = reads.views(NAME)
    links, permits = v["register_isolation_links"], v["register_permits"]
    out: dict[UUID, list[LinkedPermit]] = defaultdict(list)
    if not ids:
        return out
    rows = conn.execute(
        select(links.c.isolation_id, links.c.permit_id, links.c.required, permits.c.number, permits.c.status)
        .outerjoin(permits, permits.c.permit_id == links.c.permit_id)
        .where(links.c.isolation_id.in_(ids), links.c.project_id == project_id)
        .order_by(permits.c.number, links.c.permit_id)
    )
    for r in rows:
        out[r.isolation_id].append(
            LinkedPermit(
                id=r.permit_id,
                number=r.number,
                status=Status(r.status) if r.status else None,
                required=r.required,
                holding=r.status in _HOLDING,
            )
        )
    return out


def _locks(
    conn: Connection, reads: ReadSide, project_id: UUID, permit_ids: Iterable[UUID]
) -> dict[UUID, list[PersonalLock]]:
    wanted = list(permit_ids)
    out: dict[UUID, list[PersonalLock]] = defaultdict(list)
    if not wanted:
        return out
    for r in conn.execute(
        _lock_rows(reads, project_id).where(
            reads.views(NAME)["register_personal_locks"].c.permit_id.in_(wanted)
        )
    ):
        out[r.permit_id].append(_lock(r))
    return out


def _lock_rows(reads: ReadSide, project_id: UUID) -> Any:
    v = reads.views(NAME)
    locks, permits, workers = v["register_personal_locks"], v["register_permits"], v["register_workers"]
    return (
        select(locks, permits.c.number, permits.c.status, workers.c.name, workers.c.person_id)
        .outerjoin(permits, permits.c.permit_id == locks.c.permit_id)
        .outerjoin(workers, workers.c.worker_id == locks.c.worker_id)
        .where(locks.c.project_id == project_id)
        .order_by(locks.c.applied_at, permits.c.number, locks.c.lock_id)
    )


def _lock(r: Any) -> PersonalLock:
    return PersonalLock(
        lock_id=r.lock_id,
        permit=_permit(r.permit_id, r.number, r.status),
        worker_id=r.worker_id,
        worker_name=r.name,
        person_id=r.person_id,
        applied_at=r.applied_at,
    )


def _permit(permit_id: UUID, number: str | None, status: str | None) -> PermitRef:
    return PermitRef(id=permit_id, number=number, status=Status(status) if status else None)


def lock_register(
    reads: ReadSide,
    project_id: UUID,
    *,
    permit: UUID | None = None,
    worker: UUID | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> LockPage:
    """RM-10 / LOCK-01: the personal locks applied now in the project, oldest first."""
    v = reads.views(NAME)
    locks, links, isolations = (
        v["register_personal_locks"],
        v["register_isolation_links"],
        v["register_isolations"],
    )
    number, size = params.paging(page, page_size)
    where: list[ColumnElement[bool]] = [locks.c.project_id == project_id]
    if permit is not None:
        where.append(locks.c.permit_id == permit)
    if worker is not None:
        where.append(locks.c.worker_id == worker)
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        total = conn.execute(select(func.count()).select_from(locks).where(*where)).scalar_one()
        rows = conn.execute(
            _lock_rows(reads, project_id).where(*where).limit(size).offset((number - 1) * size)
        ).all()
        covered: dict[UUID, list[LockIsolation]] = defaultdict(list)
        permit_ids = list({r.permit_id for r in rows})
        if permit_ids:
            for r in conn.execute(
                select(
                    links.c.permit_id, isolations.c.isolation_id, isolations.c.point_code, isolations.c.status
                )
                .join(isolations, isolations.c.isolation_id == links.c.isolation_id)
                .where(links.c.permit_id.in_(permit_ids), links.c.project_id == project_id)
                .order_by(isolations.c.point_code, isolations.c.isolation_id)
            ):
                covered[r.permit_id].append(
                    LockIsolation(
                        id=r.isolation_id, point_code=r.point_code, status=IsolationStatus(r.status)
                    )
                )
    items = [
        LockItem(
            lock_id=r.lock_id,
            permit=_permit(r.permit_id, r.number, r.status),
            worker_id=r.worker_id,
            worker_name=r.name,
            person_id=r.person_id,
            applied_at=r.applied_at,
            isolations=covered.get(r.permit_id, []),
        )
        for r in rows
    ]
    return LockPage(items=items, page=number, page_size=size, total=total, as_of_position=position)


def conflict_register(
    reads: ReadSide,
    project_id: UUID,
    *,
    state: str | None = "open",
    severity: str | None = None,
    permit: UUID | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> ConflictPage:
    """RM-10 / SIM-08: conflicts in `state` (open, accepted, cleared, a comma list, or all; default open) and of
    `severity` (high, medium, low, a comma list; default any), most severe first, then oldest first."""
    v = reads.views(NAME)
    c, permits = v["register_conflicts"], v["register_permits"]
    older, newer = permits.alias("older_permit"), permits.alias("newer_permit")
    number, size = params.paging(page, page_size)
    states = choices("state", state, CONFLICT_STATES, ("open",))
    where: list[ColumnElement[bool]] = [c.c.project_id == project_id, c.c.register_state.in_(states)]
    if severity is not None:
        where.append(c.c.severity.in_(choices("severity", severity, SEVERITY_RANK, SEVERITY_RANK)))
    if permit is not None:
        where.append((c.c.older == permit) | (c.c.newer == permit))
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        total = conn.execute(select(func.count()).select_from(c).where(*where)).scalar_one()
        rows = conn.execute(
            select(
                c,
                older.c.number.label("older_number"),
                older.c.status.label("older_status"),
                newer.c.number.label("newer_number"),
                newer.c.status.label("newer_status"),
            )
            .outerjoin(older, older.c.permit_id == c.c.older)
            .outerjoin(newer, newer.c.permit_id == c.c.newer)
            .where(*where)
            .order_by(c.c.severity_rank.desc(), c.c.detected_at, c.c.conflict_id)
            .limit(size)
            .offset((number - 1) * size)
        ).all()
    items = [_conflict(r) for r in rows]
    return ConflictPage(items=items, page=number, page_size=size, total=total, as_of_position=position)


def _conflict(r: Any) -> ConflictItem:
    decision = None
    if r.decision is not None:
        decision = Decision(
            decision=r.decision,
            controls=r.decision_controls,
            by=r.decided_by,
            at=r.decided_at,
            facts_hash=r.decision_facts_hash,
            current=r.decision_facts_hash == r.facts_hash,
        )
    return ConflictItem(
        id=r.conflict_id,
        rule=r.rule,
        severity=r.severity,
        state=r.register_state,
        older=_permit(r.older, r.older_number, r.older_status),
        newer=_permit(r.newer, r.newer_number, r.newer_status),
        facts_hash=r.facts_hash,
        overlap_start=r.overlap_start,
        overlap_end=r.overlap_end,
        matrix_version=r.matrix_version,
        zone_map_version=r.zone_map_version,
        detected_at=r.detected_at,
        updated_at=r.updated_at,
        cleared_reason=r.cleared_reason,
        latest_decision=decision,
        version=r.version,
    )
