"""The audit trail (RM-11) as a typed query: one row per event of one project (TEN-02), ordered by position."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import ColumnElement, Table, func, select

from ptw_domain.events import EVENT_TYPES
from ptw_projections import params
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """RM-11 filters (combined with AND) and RM-04 paging. Text as a query string gives it."""

    permit: UUID | None = None
    stream: UUID | None = None
    actor: str | None = None
    type: str | None = None
    occurred_from: str | None = None
    occurred_to: str | None = None
    page: int | None = None
    page_size: int | None = None


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """RM-11: one recorded event as an auditor reads it."""

    position: int
    event_id: UUID
    stream_id: UUID
    stream_type: str
    permit_number: str | None
    version: int
    type: str
    occurred_at: datetime
    actor_id: str
    actor_kind: str
    roles: list[str]
    on_behalf_of: str | None
    delegation_id: UUID | None
    device_id: str | None
    correlation_id: str | None
    causation_id: str | None
    rule: str | None
    summary: str
    changes: dict[str, Any]
    hash: str


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AuditEntry]
    page: int
    page_size: int
    total: int
    as_of_position: int


_changes = msgspec.json.Decoder(dict[str, Any])


def list_audit_events(reads: ReadSide, project_id: UUID, query: AuditQuery) -> AuditPage:
    v = reads.views("audit_trail")
    a = v["audit_events"]
    page, size = params.paging(query.page, query.page_size)
    with reads.connect() as conn:
        position = reads.position("audit_trail", conn)
        zone = reads.time_zone(project_id, conn)
        where = [a.c.project_id == project_id, *_filters(a, query, zone)]
        total = conn.execute(select(func.count()).select_from(a).where(*where)).scalar_one()
        rows = conn.execute(
            select(a).where(*where).order_by(a.c.position.asc()).limit(size).offset((page - 1) * size)
        ).all()
    items = [
        AuditEntry(
            position=r.position,
            event_id=r.event_id,
            stream_id=r.stream_id,
            stream_type=r.stream_type,
            permit_number=r.permit_number,
            version=r.version,
            type=r.type,
            occurred_at=r.occurred_at,
            actor_id=r.actor_id,
            actor_kind=r.actor_kind,
            roles=[role for role in r.roles.split(",") if role],
            on_behalf_of=r.on_behalf_of,
            delegation_id=r.delegation_id,
            device_id=r.device_id,
            correlation_id=r.correlation_id,
            causation_id=r.causation_id,
            rule=r.rule,
            summary=r.summary,
            changes=_changes.decode(r.changes),
            hash=r.hash,
        )
        for r in rows
    ]
    return AuditPage(items=items, page=page, page_size=size, total=total, as_of_position=position)


def event_types(value: str) -> list[str]:
    """The comma list of event type names, each one the store knows."""
    names = [t.strip() for t in value.split(",") if t.strip()]
    if not names:
        raise InvalidQuery("type", "give at least one event type")
    unknown = [n for n in names if n not in EVENT_TYPES]
    if unknown:
        raise InvalidQuery("type", f"unknown event type {', '.join(map(repr, unknown))}")
    return names


def _filters(a: Table, q: AuditQuery, zone: ZoneInfo) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if q.permit is not None:
        where.append(a.c.permit_id == q.permit)
    if q.stream is not None:
        where.append(a.c.stream_id == q.stream)
    if q.actor is not None:
        where.append(a.c.actor_id == q.actor)
    if q.type is not None:
        where.append(a.c.type.in_(event_types(q.type)))
    if q.occurred_from is not None:
        at, _ = params.bound("occurred_from", q.occurred_from, zone, upper=False)
        where.append(a.c.occurred_at >= at)
    if q.occurred_to is not None:
        at, inclusive = params.bound("occurred_to", q.occurred_to, zone, upper=True)
        where.append(a.c.occurred_at <= at if inclusive else a.c.occurred_at < at)
    return where
