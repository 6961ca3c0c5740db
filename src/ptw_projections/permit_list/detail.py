"""Permit detail (RM-06): everything about one permit now, from the permit list's tables.

All content, status history, cycles with their signatures and validity (SIG-11), workers and briefings, gas
sessions, isolations and locks, extensions, handovers, inhibits and close-out are in the folded state; the
detail adds what is derived: effective status at `as_of` (TIME-05), risk, core hash, chain head, signature
statuses and the conflicts touching the permit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Select,
    bindparam,
    case,
    cast,
    literal,
    null,
    or_,
    select,
    union_all,
)

from ptw_domain.errors import NotFound as DomainNotFound
from ptw_domain.permit.content import PermitContent
from ptw_domain.permit.expiry import expiry_due
from ptw_domain.permit.signature_status import SignatureView, signature_views_from
from ptw_domain.permit.state import PermitState, core_hash_of
from ptw_domain.permit.status import Status
from ptw_domain.risk import RiskLevel
from ptw_domain.service import PermitService
from ptw_domain.templates import TemplateRef
from ptw_projections.board.query import board_at
from ptw_projections.errors import InvalidQuery, NotFound
from ptw_projections.reader import ReadSide
from ptw_projections.reference import ReferenceData

_state = msgspec.json.Decoder(PermitState)
_content = msgspec.json.Decoder(PermitContent)
_template = msgspec.json.Decoder(TemplateRef)


class ConflictLine(msgspec.Struct, frozen=True, kw_only=True):
    conflict_id: UUID
    rule: str
    severity: str
    other_permit: UUID
    open: bool


class PermitDetail(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    number: str
    version: int
    status: Status
    effective_status: Status
    risk_score: int
    risk_level: RiskLevel
    effective_risk_level: RiskLevel
    performing_authority: str
    core_hash: str
    chain_head: str
    signatures: list[SignatureView]
    conflicts: list[ConflictLine]
    permit: PermitState
    as_of: datetime
    as_of_position: int


def permit_detail(reads: ReadSide, project_id: UUID, permit_id: UUID, *, as_of: datetime) -> PermitDetail:
    if as_of.tzinfo is None:
        raise InvalidQuery("as_of", "needs a UTC offset")
    find = reads.prepared("permit_detail", lambda: _statement(reads))
    with reads.connect() as conn:
        parts = conn.execute(find, {"permit_id": permit_id, "project_id": project_id}).all()
        if not parts or parts[0][0] != _PERMIT:
            raise NotFound("permit", permit_id)
        time_zone = reads.time_zone(project_id, conn).key
    # Rows unpacked by position, in the statement's column order (`_statement`): a row's field read by name costs
    # ten times a read by position, about a tenth of the whole call for a permit with a score of conflicts. The
    # position is the statement's own snapshot's, with every part (RM-08).
    _, encoded, chain_head, expires_at, position = parts[0][:5]
    state = _state.decode(encoded)
    # (from_version, content, template) of each change, in version order
    scopes = [(r[5], r[6], r[7]) for r in parts if r[0] == _SCOPE]
    lines = [
        ConflictLine(conflict_id=r[8], rule=r[9], severity=r[10], other_permit=r[11], open=r[12])
        for r in parts
        if r[0] == _CONFLICT  # by conflict id: a UUID's order is its text's on both backends
    ]

    # (scope, cycle) -> core hash, each worked out once: the signatures of one cycle mostly share a scope
    hashes: dict[tuple[int, int], str] = {}

    def core_hash_at(version: int, cycle: int) -> str | None:
        """The core hash of the content and template in force at `version` (the last change at or before it)."""
        found = None
        for index, scope in enumerate(scopes):
            if scope[0] > version:
                break
            found = index
        if found is None:
            return None
        if (found, cycle) not in hashes:
            _, content, template = scopes[found]
            hashes[found, cycle] = core_hash_of(_content.decode(content), _template.decode(template), cycle)
        return hashes[found, cycle]

    signatures = signature_views_from(state, core_hash_at, time_zone)
    return _detail(state, chain_head, signatures, lines, expires_at, as_of, position)


_PERMIT, _SCOPE, _CONFLICT = 0, 1, 2


def _statement(reads: ReadSide) -> CompoundSelect[Any]:
    """The detail in one statement, built once per read side (building one costs more than running it): the
    permit's row, then the content in force from each version on, then the conflicts touching it, each part
    tagged, in one round trip and one snapshot. A permit of another project has no row: its other parts alone
    read as missing (TEN-02)."""
    v = reads.views("permit_list")
    p, contents, conflicts = v["permits"], v["permit_contents"], v["conflicts"]
    permit: BindParameter[UUID] = bindparam("permit_id")
    filled: dict[int, dict[str, ColumnElement[Any]]] = {
        _PERMIT: {
            "state": p.c.state,
            "chain_head": p.c.chain_head,
            "expires_at": p.c.expires_at,
            "position": reads.catalogue.live_position("permit_list"),
        },
        _SCOPE: {
            "from_version": contents.c.from_version,
            "content": contents.c.content,
            "template": contents.c.template,
        },
        _CONFLICT: {
            "conflict_id": conflicts.c.conflict_id,
            "rule": conflicts.c.rule,
            "severity": conflicts.c.severity,
            "other_permit": case((conflicts.c.older == permit, conflicts.c.newer), else_=conflicts.c.older),
            "open": conflicts.c.open,
        },
    }
    # `permit_detail` unpacks the rows by position: part, then these columns in this order
    columns = {name: c for given in filled.values() for name, c in given.items()}

    def part(tag: int) -> Select[Any]:
        """One part's columns, every other part's as a NULL of that column's type."""
        given = filled[tag]
        return select(
            literal(tag).label("part"),
            *(given.get(name, cast(null(), c.type)).label(name) for name, c in columns.items()),
        )

    row = part(_PERMIT).where(p.c.permit_id == permit, p.c.project_id == bindparam("project_id"))
    scopes = part(_SCOPE).where(contents.c.permit_id == permit)
    touching = part(_CONFLICT).where(or_(conflicts.c.older == permit, conflicts.c.newer == permit))
    return union_all(row, scopes, touching).order_by("part", "from_version", "conflict_id")


def permit_detail_at(
    service: PermitService,
    reads: ReadSide,
    project_id: UUID,
    permit_id: UUID,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> PermitDetail:
    """BRD-02: the detail as it was at version N or instant T. The permit's own stream is folded up to that
    point (its snapshots make this cheap; one stream, never the store); the conflicts are those open at that
    instant on the board's history, and the effective status is judged at it."""
    if (version is None) == (at is None):
        raise InvalidQuery("version", "give exactly one of version and at")
    if at is not None and at.tzinfo is None:
        raise InvalidQuery("at", "needs a UTC offset")
    try:
        state = (
            service.permit_at_version(permit_id, version)
            if version is not None
            else service.permit_at(
                permit_id,
                at,  # type: ignore[arg-type]
            )
        )
    except DomainNotFound:
        raise NotFound("permit", permit_id) from None
    if state.project_id != project_id:
        raise NotFound("permit", permit_id)  # TEN-02: another project's permit reads as missing
    recorded = service.history(permit_id)[state.version - 1]
    instant = at if at is not None else recorded.occurred_at
    v = reads.views("permit_list")
    with reads.connect() as conn:
        template = ReferenceData().template(conn, v, project_id, state.template)
    board = board_at(reads, project_id, instant)
    lines = [
        ConflictLine(
            conflict_id=c.id,
            rule=c.rule,
            severity=c.severity,
            other_permit=c.newer if c.older == permit_id else c.older,
            open=True,
        )
        for c in board.open_conflicts
        if permit_id in (c.older, c.newer)
    ]
    due = expiry_due(state, template)
    signatures = service.signatures(permit_id, version=state.version)
    return _detail(
        state, recorded.hash, signatures, lines, due[0] if due else None, instant, board.as_of_position
    )


def _detail(
    state: PermitState,
    chain_head: str,
    signatures: list[SignatureView],
    conflicts: list[ConflictLine],
    expires_at: datetime | None,
    as_of: datetime,
    position: int,
) -> PermitDetail:
    expired = expires_at is not None and expires_at <= as_of
    return PermitDetail(
        id=state.permit_id,
        number=state.number,
        version=state.version,
        status=state.status,
        effective_status=Status.EXPIRED if expired else state.status,
        risk_score=state.risk_score,
        risk_level=state.risk_level,
        effective_risk_level=state.effective_risk_level,
        performing_authority=state.performing_authority,
        core_hash=state.core_hash,
        chain_head=chain_head,
        signatures=signatures,
        conflicts=conflicts,
        permit=state,
        as_of=as_of,
        as_of_position=position,
    )
