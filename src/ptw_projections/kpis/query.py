"""KPIs (KPI-01..13) and compliance reports (RPT-01..04) as typed queries.

Every time-dependent value is computed here for an explicit `as_of` (TIME-05) from the clock-free facts the
projection keeps, and the thresholds used are echoed in the response. Each response states the projection's
`as_of_position` (RM-08: KPIs and reports may lag by at most 5 s). KPIs take the permit list's filters (RM-01)
that the KPI table can serve (see `KpiFilters`); reports take whole days in the project's time zone (RPT-01).

Cost (issue 4, KPIs p99 <= 20 ms at 100,000 permits): a report is three statements (`_KpiStatements`), built once
when unfiltered and planned once (generic plans). Each figure is one count over its own index range (partial
indexes for KPI-05/11/12), never a pass over every open permit; without filters KPI-01, KPI-08 and KPI-10 read
the projection's counters, KPI-01 corrected for the permits whose expiry instant has come (with filters the
matching rows are counted); KPI-06 and KPI-09's total are KPI-01's figures; the windows (KPI-07/08) and the lists
(KPI-13) are index ranges.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import array

from ptw_domain.permit.status import LIVE, TERMINAL, Status
from ptw_projections.errors import InvalidQuery
from ptw_projections.kpis import projection as kinds
from ptw_projections.permit_filters import (
    EXPIRING,
    Instant,
    PermitFilters,
    common_filters,
    effective_status_in,
)
from ptw_projections.reader import ReadSide
from ptw_projections.types import UtcDateTime, day_of, day_start

NAME = "kpis"
# KPI-05: "under_review to suspended"
ISOLATION_STAGES = (Status.UNDER_REVIEW, Status.APPROVED, Status.ACTIVE, Status.SUSPENDED)
SEVERITIES = ("high", "medium", "low")

# --- parameters ----------------------------------------------------------------------------------------------


KpiFilters = PermitFilters  # RM-01 as the KPI table serves it: equipment tags, assignee and `q` need the
# permit list's tag, party and search tables, so they are not KPI filters.


# --- results -------------------------------------------------------------------------------------------------


class KpiThresholds(msgspec.Struct, frozen=True, kw_only=True):
    """The limits the figures used (echoed). SLA hours are each permit's template's (ESC-01), shown per item."""

    sla_hours: str = "per template: verification_sla_hours, approval_sla_hours"
    expiring_soon_hours: int
    window_days: int
    list_size: int


class StatusCounts(msgspec.Struct, frozen=True, kw_only=True):
    """KPI-01: permits per effective status at as_of; `total_open` = not closed and not cancelled."""

    by_status: dict[str, int]
    total: int
    total_open: int


class CloseoutPending(msgspec.Struct, frozen=True, kw_only=True):
    """KPI-06: handed back, not closed; separately expired permits awaiting hand-back."""

    completed: int
    expired_awaiting_hand_back: int


class TimeToApprove(msgspec.Struct, frozen=True, kw_only=True):
    """KPI-07: approved_at - submitted_at of the approving cycle, over approvals in (from, to]."""

    approvals: int
    mean_hours: float | None
    median_hours: float | None
    window_from: datetime
    window_to: datetime


class TypeCount(msgspec.Struct, frozen=True, kw_only=True):
    template_key: str
    category: str
    count: int


class SuspendedCounts(msgspec.Struct, frozen=True, kw_only=True):
    """KPI-09: suspended permits by the reason code that suspended them (their first cause)."""

    total: int
    by_reason: dict[str, int]


class ConflictCounts(msgspec.Struct, frozen=True, kw_only=True):
    """KPI-10: open conflicts by severity; `blocking` = open high (SIM-06)."""

    by_severity: dict[str, int]
    total: int
    blocking: int


class HandoversPending(msgspec.Struct, frozen=True, kw_only=True):
    """KPI-12: live permits owing a handover whose boundary has come; `missed` = past its grace too."""

    pending: int
    missed: int


class OverdueItem(msgspec.Struct, frozen=True, kw_only=True):
    permit_id: UUID
    number: str
    title: str
    step: str  # verification | approval
    pending_since: datetime
    age_hours: float
    limit_hours: int


class ExpiringItem(msgspec.Struct, frozen=True, kw_only=True):
    permit_id: UUID
    number: str
    title: str
    effective_status: Status
    valid_until: datetime
    minutes_left: int


class KpiLists(msgspec.Struct, frozen=True, kw_only=True):
    """KPI-13: the oldest of KPI-02 ∪ KPI-03 and the soonest of KPI-04."""

    top_overdue: list[OverdueItem]
    expiring_soon: list[ExpiringItem]


class KpiReport(msgspec.Struct, frozen=True, kw_only=True):
    as_of: datetime
    as_of_position: int
    thresholds: KpiThresholds
    filters: KpiFilters
    counts: StatusCounts  # KPI-01
    overdue_verifications: int  # KPI-02
    overdue_approvals: int  # KPI-03
    expiring_soon: int  # KPI-04
    isolation_pending: int  # KPI-05
    closeout_pending: CloseoutPending  # KPI-06
    time_to_approve: TimeToApprove  # KPI-07
    permits_per_type: list[TypeCount]  # KPI-08
    suspended: SuspendedCounts  # KPI-09
    conflicts_open: ConflictCounts  # KPI-10
    gas_tests_overdue: int  # KPI-11
    handovers: HandoversPending  # KPI-12
    lists: KpiLists  # KPI-13


class ReportWindow(msgspec.Struct, frozen=True, kw_only=True):
    """RPT-01: whole days in the project's time zone; instants [start, end)."""

    date_from: date
    date_to: date
    time_zone: str
    start: datetime
    end: datetime


class ReportThresholds(msgspec.Struct, frozen=True, kw_only=True):
    report_verification_hours: int
    report_approval_hours: int
    report_expiring_hours: int


class ComplianceSummary(msgspec.Struct, frozen=True, kw_only=True):
    """RPT-02. Current-state figures ignore the window; `permits_in_window`, the incident rate, the top templates
    and SOD relaxations use it."""

    as_of: datetime
    as_of_position: int
    window: ReportWindow
    thresholds: ReportThresholds
    counts: StatusCounts
    overdue_verification: int
    overdue_approval: int
    expiring: int
    isolation_pending: int
    closeout_pending: CloseoutPending
    permits_in_window: int
    incidents_in_window: int  # RPT-04 links, recorded by as_of, to the permits created in the window
    incident_rate: float  # incidents_in_window / permits_in_window x 100, 2 decimals, 0 when none
    top_templates: list[TypeCount]
    sod_relaxations: int


class ExceptionItem(msgspec.Struct, frozen=True, kw_only=True):
    permit_id: UUID | None
    number: str | None
    at: datetime | None
    rule: str
    facts: dict[str, Any]


class ExceptionList(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    truncated: bool
    items: list[ExceptionItem]


class ExceptionThresholds(msgspec.Struct, frozen=True, kw_only=True):
    report_verification_hours: int
    report_approval_hours: int
    report_expiring_hours: int
    exceptions_cap: int


class ComplianceExceptions(msgspec.Struct, frozen=True, kw_only=True):
    """RPT-03. The first six lists are current state (the window is ignored); the others are facts recorded in
    the window."""

    as_of: datetime
    as_of_position: int
    window: ReportWindow
    thresholds: ExceptionThresholds
    overdue_verification: ExceptionList
    overdue_approval: ExceptionList
    expiring: ExceptionList
    isolation_pending: ExceptionList
    closeout_pending: ExceptionList
    orphan_isolations: ExceptionList
    lock_removals_by_exception: ExceptionList
    sod_relaxations: ExceptionList
    gas_failures: ExceptionList
    automatic_suspensions: ExceptionList
    missed_handovers: ExceptionList
    conflicts_accepted_with_controls: ExceptionList
    expired_while_live: ExceptionList
    incomplete_hand_backs: ExceptionList
    signature_invalidations: ExceptionList
    deisolation_deferred_to_operations: ExceptionList


# --- KPIs ----------------------------------------------------------------------------------------------------

# What a KPI statement takes as parameters, so that the unfiltered statements are built once (see `_statements`).
_AS_OF = bindparam("as_of", type_=UtcDateTime)
_SOON = bindparam("soon", type_=UtcDateTime)  # as_of + expiring_soon_hours
_WINDOW_FROM = bindparam("window_from", type_=UtcDateTime)  # as_of - window_days
_SIZE = bindparam("size", type_=Integer)  # list_size
# the whole UTC days of a window and the instants that bound them (`_day_params`)
_FIRST_DAY = bindparam("first_day", type_=Integer)
_LAST_DAY = bindparam("last_day", type_=Integer)
_FIRST_START = bindparam("first_start", type_=UtcDateTime)
_AFTER_LAST = bindparam("after_last", type_=UtcDateTime)


def kpis(
    reads: ReadSide,
    project_id: UUID,
    *,
    as_of: datetime,
    filters: KpiFilters | None = None,
    expiring_soon_hours: int = 4,
    window_days: int = 30,
    list_size: int = 10,
) -> KpiReport:
    """KPI-01..13 for the project's permits matching `filters`, at `as_of`."""
    _aware("as_of", as_of)
    _positive("expiring_soon_hours", expiring_soon_hours)
    _positive("window_days", window_days)
    _positive("list_size", list_size, most=100)
    chosen = filters or KpiFilters()
    window_from = as_of - timedelta(days=window_days)
    params = {
        "project_id": project_id,
        "as_of": as_of,
        "soon": as_of + timedelta(hours=expiring_soon_hours),
        "window_from": window_from,
        "size": list_size,
        **_day_params(window_from, as_of),
    }
    with reads.db.report() as conn:
        conditions = []
        if chosen != KpiFilters():
            zone = reads.time_zone(project_id, conn)
            conditions = _filters(reads.views(NAME), chosen, as_of, zone)
        statements = _statements(reads, conditions)
        figures = conn.execute(statements.figures, params).one()
        waits = None if statements.waits is None else list(conn.execute(statements.waits, params).scalars())
        tallies = _grouped(conn.execute(statements.tallies, params))
        listed = conn.execute(statements.lists, params).all()
    counts = _status_totals(tallies)
    by_severity = dict.fromkeys(SEVERITIES, 0)
    for severity, _, n in tallies.get("severity", []):
        by_severity[str(severity)] = n
    return KpiReport(
        as_of=as_of,
        as_of_position=figures.position,
        thresholds=KpiThresholds(
            expiring_soon_hours=expiring_soon_hours, window_days=window_days, list_size=list_size
        ),
        filters=chosen,
        counts=counts,
        overdue_verifications=figures.overdue_verifications,
        overdue_approvals=figures.overdue_approvals,
        expiring_soon=figures.expiring_soon,
        isolation_pending=figures.isolation_pending,
        # KPI-06 and KPI-09 are KPI-01's effective figures (a completed permit never expires: `expiry_due`)
        closeout_pending=CloseoutPending(
            completed=counts.by_status[Status.COMPLETED.value],
            expired_awaiting_hand_back=counts.by_status[Status.EXPIRED.value],
        ),
        time_to_approve=_time_to_approve(figures, waits, window_from, as_of),
        permits_per_type=_type_counts(tallies.get("type", [])),
        suspended=SuspendedCounts(
            total=counts.by_status[Status.SUSPENDED.value],
            by_reason={
                str(reason or "unknown"): n
                for reason, _, n in sorted(
                    tallies.get("reason", []), key=lambda r: (r[0] is None, r[0] or "")
                )
                if n
            },
        ),
        conflicts_open=ConflictCounts(
            by_severity=by_severity, total=sum(by_severity.values()), blocking=by_severity["high"]
        ),
        gas_tests_overdue=figures.gas_tests_overdue,
        handovers=HandoversPending(pending=figures.handovers_pending, missed=figures.handovers_missed),
        lists=_lists(listed, as_of, list_size),
    )


class _KpiStatements(msgspec.Struct, frozen=True, kw_only=True):
    """The KPI report in three statements (four on SQLite), each taking the parameters `kpis` passes:
    `figures`, one row: the position, the counts (each one count over its own index range) and KPI-07's
    aggregates; `tallies`, the grouped counts as rows (part, key, key2, n); `lists`, KPI-13's rows; `waits`,
    KPI-07's durations where the database has no ordered-set aggregates (SQLite)."""

    figures: Select[Any]
    tallies: CompoundSelect[Any]
    lists: CompoundSelect[Any]
    waits: Select[Any] | None


def _statements(reads: ReadSide, filters: list[ColumnElement[bool]]) -> _KpiStatements:
    """Without filters the statements are built once per read side, so a call neither builds nor compiles SQL
    (SQLAlchemy finds the compiled form in its cache); filters carry their values, so those are built per call."""
    if filters:
        return _build(reads, filters)
    return reads.prepared(NAME, lambda: _build(reads, []))


def _build(reads: ReadSide, filters: list[ColumnElement[bool]]) -> _KpiStatements:
    v = reads.views(NAME)
    p, a = v["kpi_permits"], v["kpi_approvals"]
    project_id = bindparam("project_id", type_=p.c.project_id.type)
    where = [p.c.project_id == project_id, *filters]
    as_of = _AS_OF
    live = _is(p, as_of, *LIVE)
    overdue_v = [_is(p, as_of, Status.SUBMITTED), p.c.verification_due_at <= as_of]
    overdue_a = [_is(p, as_of, Status.UNDER_REVIEW), p.c.approval_due_at <= as_of]
    expiring = [_is(p, as_of, *EXPIRING), p.c.valid_until > as_of, p.c.valid_until <= _SOON]
    figures = {
        "overdue_verifications": overdue_v,
        "overdue_approvals": overdue_a,
        "expiring_soon": expiring,
        "isolation_pending": _isolation_pending(p, as_of),
        "gas_tests_overdue": [_is(p, as_of, Status.ACTIVE), p.c.retest_due_at <= as_of],
        "handovers_pending": [live, p.c.handover_due_at <= as_of],
        "handovers_missed": [live, p.c.handover_missed_at <= as_of],
    }
    columns: list[Any] = [reads.catalogue.live_position(NAME).label("position")]
    columns += [
        select(func.count()).select_from(p).where(*where, *c).scalar_subquery().label(name)
        for name, c in figures.items()
    ]
    # KPI-07: the approvals in (window_from, as_of], of the permits matching the filters when there are any
    approvals = select().where(a.c.project_id == project_id, a.c.approved_at > _WINDOW_FROM)
    approvals = approvals.where(a.c.approved_at <= as_of)
    if filters:
        approvals = approvals.join_from(a, p, p.c.permit_id == a.c.permit_id).where(*where)
    w = a.c.waited_us
    if reads.db.engine.dialect.name == "postgresql":
        # The sum, and the lower and upper middle from one sort: percentile_disc(f) is the ceil(f n)-th value, so
        # 0.5 gives the ceil(n/2)-th and 0.5 + 1e-10 the floor(n/2)+1-th, for any n below 5e9.
        middle = func.percentile_disc(array([0.5, 0.5 + 1e-10])).within_group(w.asc())
        stats = approvals.add_columns(
            func.count().label("approvals"), func.sum(w).label("waited_us"), middle.label("middle")
        ).subquery()
        statement, waits = select(*columns, *stats.c).select_from(stats), None
    else:
        statement, waits = select(*columns), approvals.add_columns(w)
    return _KpiStatements(
        figures=statement,
        tallies=_tallies(v, project_id, where, filtered=bool(filters)),
        lists=_list_rows(p, where, overdue_v, overdue_a, expiring),
        waits=waits,
    )


def _tallies(
    v: dict[str, Table], project_id: Any, where: list[ColumnElement[bool]], *, filtered: bool
) -> CompoundSelect[Any]:
    """KPI-01 ('status', and 'lapsed' with the counters), KPI-09's reasons, KPI-08's template counts ('type') and
    KPI-10's severities. Without filters KPI-01, KPI-08 and KPI-10 read the projection's counters; with them,
    the matching permits."""
    p, c = v["kpi_permits"], v["kpi_conflicts"]
    reasons = (
        select(p.c.suspension_reason, func.count())
        .where(*where, _is(p, _AS_OF, Status.SUSPENDED))
        .group_by(p.c.suspension_reason)
    )
    created = (p.c.created_at > _WINDOW_FROM, p.c.created_at <= _AS_OF)
    parts: list[tuple[str, Select[Any]]] = [("reason", reasons)]
    if filtered:
        effective = _effective(p, _AS_OF)
        matching = select(p.c.permit_id).where(*where)  # a conflict counts when either of its permits matches
        parts += [
            ("status", select(effective, func.count()).where(*where).group_by(effective)),
            ("type", _per_type(p, [*where, *created])),
            (
                "severity",
                select(c.c.severity, func.count())
                .where(
                    c.c.project_id == project_id,
                    c.c.open.is_(True),
                    or_(c.c.older.in_(matching), c.c.newer.in_(matching)),
                )
                .group_by(c.c.severity),
            ),
        ]
    else:
        t = v["kpi_conflict_counts"]
        parts += _counted_parts(v, project_id, _AS_OF)
        parts += [("type", s) for s in _created_parts(v, project_id, *created)]
        parts.append(("severity", select(t.c.severity, t.c.n).where(t.c.project_id == project_id)))
    return _tagged(parts)


def _tagged(parts: Sequence[tuple[str, Select[Any]]]) -> CompoundSelect[Any]:
    """Grouped counts of several kinds in one statement: each part's (key, [key2,] n) rows as (part, key, key2,
    n), ordered by part and keys (ties of a ranking keep the database's order of the keys)."""
    rows = []
    for part, s in parts:
        key, *middle, n = s.selected_columns
        rows.append(
            s.with_only_columns(
                literal_column(f"'{part}'").label("part"),
                key.label("key"),
                (middle[0] if middle else cast(null(), String)).label("key2"),
                n.label("n"),
            )
        )
    return union_all(*rows).order_by(text("part"), text("key"), text("key2"))


def _grouped(rows: Iterable[Any]) -> dict[str, list[tuple[str | None, str | None, int]]]:
    out: dict[str, list[tuple[str | None, str | None, int]]] = {}
    for part, key, key2, n in rows:
        out.setdefault(part, []).append((key, key2, int(n)))
    return out


def _counted_parts(v: dict[str, Table], project_id: Any, as_of: Any) -> list[tuple[str, Select[Any]]]:
    """KPI-01 without filters: the projection's per-status counters, and the permits whose expiry instant has
    come by recorded status, which `_status_totals` moves to expired (TIME-05)."""
    t, p = v["kpi_status_counts"], v["kpi_permits"]
    expiring = [s.value for s in EXPIRING]
    return [
        ("status", select(t.c.status, t.c.n).where(t.c.project_id == project_id)),
        (
            "lapsed",
            select(p.c.status, func.count())
            .where(p.c.project_id == project_id, p.c.status.in_(expiring), p.c.expires_at <= as_of)
            .group_by(p.c.status),
        ),
    ]


def _status_totals(tallies: dict[str, list[tuple[str | None, str | None, int]]]) -> StatusCounts:
    by_status = {s.value: 0 for s in Status}
    for status, _, n in tallies.get("status", []):
        by_status[str(status)] = n
    for status, _, n in tallies.get("lapsed", []):
        by_status[str(status)] -= n
        by_status[Status.EXPIRED.value] += n
    return _totalled(by_status)


def _counted_statuses(
    conn: Connection, v: dict[str, Table], project_id: UUID, as_of: datetime
) -> StatusCounts:
    """KPI-01 without filters (see `_counted_parts`)."""
    return _status_totals(_grouped(conn.execute(_tagged(_counted_parts(v, project_id, as_of)))))


def _totalled(by_status: dict[str, int]) -> StatusCounts:
    total = sum(by_status.values())
    closed = sum(by_status[s.value] for s in TERMINAL)
    return StatusCounts(by_status=by_status, total=total, total_open=total - closed)


def _closeout(
    conn: Connection, p: Table, where: list[ColumnElement[bool]], as_of: datetime
) -> CloseoutPending:
    return CloseoutPending(
        completed=_count(conn, p, *where, p.c.status == Status.COMPLETED.value),
        expired_awaiting_hand_back=_count(conn, p, *where, _is(p, as_of, Status.EXPIRED)),
    )


def _time_to_approve(figures: Any, waits: list[int] | None, start: datetime, end: datetime) -> TimeToApprove:
    """KPI-07 from the database's count, exact sum and the one or two middle durations `statistics.median`
    takes (so a month of approvals is not shipped row by row), or from every duration (`waits`)."""
    if waits is None:
        n, total = figures.approvals, figures.waited_us
        middle = figures.middle if n else []
    else:
        waits.sort()
        n, total, middle = len(waits), sum(waits), waits[(len(waits) - 1) // 2 : len(waits) // 2 + 1]
    # each duration in hours as timedelta.total_seconds() / 3600 gives it; the mean of the exact sum
    hours = [int(us) / 10**6 / 3600 for us in middle]
    return TimeToApprove(
        approvals=n,
        mean_hours=_round(float(Decimal(int(total)) / (n * 3600 * 10**6)), 1) if n else None,
        median_hours=_round(statistics.median(hours), 1) if n else None,
        window_from=start,
        window_to=end,
    )


def _per_type(p: Table, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """Permits matching `where` by template key and category."""
    return (
        select(p.c.template_key, p.c.category, func.count())
        .where(*where)
        .group_by(p.c.template_key, p.c.category)
    )


def _type_counts(rows: Iterable[tuple[str | None, str | None, int]]) -> list[TypeCount]:
    """Rows (template key, category, n) ordered by key, summed per key, most first."""
    totals: dict[tuple[str, str], int] = {}
    for key, category, n in rows:
        k = (str(key), str(category))
        totals[k] = totals.get(k, 0) + n
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])  # stable: ties keep the keys' order
    return [TypeCount(template_key=k, category=c, count=n) for (k, c), n in ranked]


def _day_params(start: datetime, end: datetime) -> dict[str, Any]:
    """The whole UTC days strictly between `start` and `end` (none when they are a day or two apart) and the
    instants where they begin and end."""
    first = day_of(start) + 1
    last = max(day_of(end) - 1, first - 1)
    return {
        "first_day": first,
        "last_day": last,
        "first_start": day_start(first),
        "after_last": day_start(last + 1),
    }


def _created_parts(
    v: dict[str, Table], project_id: Any, from_start: ColumnElement[bool], to_end: ColumnElement[bool]
) -> list[Select[Any]]:
    """The project's permits created between two instants (bounds as `from_start`/`to_end` say; their whole days
    as `_day_params` gives them) by template key and category: the whole days from the per-day counters, the
    two partial days at the ends from the permits' (project, created_at) index, so the cost does not grow with
    the permits created in the window."""
    p, d = v["kpi_permits"], v["kpi_created_days"]
    mine = p.c.project_id == project_id
    return [
        select(d.c.template_key, d.c.category, d.c.n).where(
            d.c.project_id == project_id, d.c.day >= _FIRST_DAY, d.c.day <= _LAST_DAY
        ),
        _per_type(p, [mine, from_start, p.c.created_at < _FIRST_START]),
        _per_type(p, [mine, p.c.created_at >= _AFTER_LAST, to_end]),
    ]


def _created_per_type(
    conn: Connection,
    v: dict[str, Table],
    project_id: UUID,
    start: datetime,
    end: datetime,
    *,
    from_start: ColumnElement[bool],
    to_end: ColumnElement[bool],
) -> list[TypeCount]:
    """RPT-02: the window's permits by template key and category, most first (see `_created_parts`)."""
    parts = [("type", s) for s in _created_parts(v, project_id, from_start, to_end)]
    rows = _grouped(conn.execute(_tagged(parts), _day_params(start, end)))
    return _type_counts(rows.get("type", []))


def _list_rows(
    p: Table,
    where: list[ColumnElement[bool]],
    verification: list[ColumnElement[bool]],
    approval: list[ColumnElement[bool]],
    expiring: list[ColumnElement[bool]],
) -> CompoundSelect[Any]:
    """KPI-13: the oldest `size` of either overdue step (`pending_since` is the step's start: the (project,
    status, pending_since) index reads them in order and stops) and the `size` soonest to expire, as rows
    (part, key: the step or the status, permit, number, title, at: since or valid_until, hours: the step's limit)."""
    parts = [
        select(
            literal_column("'overdue'").label("part"),
            literal_column(f"'{step}'").label("key"),
            p.c.permit_id,
            p.c.number,
            p.c.title,
            since.label("at"),
            limit.label("hours"),
        )
        .where(*where, *conditions)
        .order_by(p.c.pending_since.asc(), p.c.number.asc())
        .limit(_SIZE)
        for step, since, limit, conditions in (
            ("verification", p.c.submitted_at, p.c.verification_sla_hours, verification),
            ("approval", p.c.verified_at, p.c.approval_sla_hours, approval),
        )
    ]
    parts.append(
        select(
            literal_column("'expiring'").label("part"),
            p.c.status.label("key"),
            p.c.permit_id,
            p.c.number,
            p.c.title,
            p.c.valid_until.label("at"),
            cast(null(), Integer).label("hours"),
        )
        .where(*where, *expiring)
        .order_by(p.c.valid_until.asc(), p.c.number.asc())
        .limit(_SIZE)
    )
    nested = [s.subquery() for s in parts]
    return union_all(*(select(*n.c) for n in nested)).order_by(text("part"), text("at"), text("number"))


def _lists(rows: Sequence[Any], as_of: datetime, size: int) -> KpiLists:
    overdue = [
        OverdueItem(
            permit_id=r.permit_id,
            number=r.number,
            title=r.title,
            step=r.key,
            pending_since=r.at,
            age_hours=_round((as_of - r.at).total_seconds() / 3600, 1),
            limit_hours=r.hours,
        )
        for r in rows
        if r.part == "overdue"
    ]
    overdue.sort(key=lambda i: (i.pending_since, i.number))
    expiring = [
        ExpiringItem(
            permit_id=r.permit_id,
            number=r.number,
            title=r.title,
            effective_status=Status(r.key),  # not expired at as_of: the recorded status holds
            valid_until=r.at,
            minutes_left=int((r.at - as_of).total_seconds() // 60),
        )
        for r in rows
        if r.part == "expiring"
    ]
    return KpiLists(top_overdue=overdue[:size], expiring_soon=expiring)


# --- compliance reports ----------------------------------------------------------------------------------------


def compliance_summary(
    reads: ReadSide,
    project_id: UUID,
    *,
    date_from: date | str | None = None,
    date_to: date | str | None = None,
    as_of: datetime,
    report_verification_hours: int = 24,
    report_approval_hours: int = 48,
    report_expiring_hours: int = 24,
) -> ComplianceSummary:
    """RPT-02 for the window of RPT-01 (default: the 30 days up to as_of's day, project time)."""
    _aware("as_of", as_of)
    for name, value in (
        ("report_verification_hours", report_verification_hours),
        ("report_approval_hours", report_approval_hours),
        ("report_expiring_hours", report_expiring_hours),
    ):
        _positive(name, value)
    v = reads.views(NAME)
    p, f = v["kpi_permits"], v["kpi_facts"]
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        zone = reads.time_zone(project_id, conn)
        window = _window(date_from, date_to, as_of, zone)
        mine = [p.c.project_id == project_id]
        created = _created_per_type(
            conn,
            v,
            project_id,
            window.start,
            window.end,
            from_start=p.c.created_at >= window.start,
            to_end=p.c.created_at < window.end,
        )
        in_window = sum(t.count for t in created)
        i = v["kpi_incidents"]
        incidents = _count(
            conn,
            i,
            i.c.project_id == project_id,
            i.c.linked_at <= as_of,
            i.c.permit_id.in_(
                select(p.c.permit_id).where(
                    *mine, p.c.created_at >= window.start, p.c.created_at < window.end
                )
            ),
        )
        return ComplianceSummary(
            as_of=as_of,
            as_of_position=position,
            window=window,
            thresholds=ReportThresholds(
                report_verification_hours=report_verification_hours,
                report_approval_hours=report_approval_hours,
                report_expiring_hours=report_expiring_hours,
            ),
            counts=_counted_statuses(conn, v, project_id, as_of),
            overdue_verification=_count(
                conn, p, *mine, *_report_overdue_verification(p, as_of, report_verification_hours)
            ),
            overdue_approval=_count(
                conn, p, *mine, *_report_overdue_approval(p, as_of, report_approval_hours)
            ),
            expiring=_count(conn, p, *mine, *_report_expiring(p, as_of, report_expiring_hours)),
            isolation_pending=_count(conn, p, *mine, *_isolation_pending(p, as_of)),
            closeout_pending=_closeout(conn, p, mine, as_of),
            permits_in_window=in_window,
            incidents_in_window=incidents,
            incident_rate=_round(incidents * 100 / in_window, 2) if in_window else 0.0,
            top_templates=created[:5],
            sod_relaxations=_count(
                conn,
                f,
                f.c.project_id == project_id,
                f.c.kind == kinds.SOD_RELAXATION,
                f.c.at >= window.start,
                f.c.at < window.end,
            ),
        )


def compliance_exceptions(
    reads: ReadSide,
    project_id: UUID,
    *,
    date_from: date | str | None = None,
    date_to: date | str | None = None,
    as_of: datetime,
    report_verification_hours: int = 24,
    report_approval_hours: int = 48,
    report_expiring_hours: int = 24,
    exceptions_cap: int = 50,
) -> ComplianceExceptions:
    """RPT-03: each list capped at `exceptions_cap` with its total and whether it was truncated."""
    _aware("as_of", as_of)
    for name, value in (
        ("report_verification_hours", report_verification_hours),
        ("report_approval_hours", report_approval_hours),
        ("report_expiring_hours", report_expiring_hours),
    ):
        _positive(name, value)
    _positive("exceptions_cap", exceptions_cap, most=500)
    v = reads.views(NAME)
    p = v["kpi_permits"]
    cap = exceptions_cap
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        zone = reads.time_zone(project_id, conn)
        window = _window(date_from, date_to, as_of, zone)
        mine = p.c.project_id == project_id

        def current(conditions: Sequence[ColumnElement[bool]], order: Any, item: Any) -> ExceptionList:
            total = _count(conn, p, mine, *conditions)
            rows = conn.execute(
                select(*(c for c in p.columns if c.name != "state"))
                .where(mine, *conditions)
                .order_by(order, p.c.number.asc())
                .limit(cap)
            ).all()
            return ExceptionList(total=total, truncated=total > cap, items=[item(r) for r in rows])

        def recorded(kind: str) -> ExceptionList:
            return _recorded(conn, v, project_id, kind, window, cap)

        hours = _hours_since
        return ComplianceExceptions(
            as_of=as_of,
            as_of_position=position,
            window=window,
            thresholds=ExceptionThresholds(
                report_verification_hours=report_verification_hours,
                report_approval_hours=report_approval_hours,
                report_expiring_hours=report_expiring_hours,
                exceptions_cap=cap,
            ),
            overdue_verification=current(
                _report_overdue_verification(p, as_of, report_verification_hours),
                p.c.submitted_at.asc(),
                lambda r: _item(
                    r,
                    r.submitted_at,
                    "ESC-02",
                    age_hours=hours(r.submitted_at, as_of),
                    limit_hours=report_verification_hours,
                ),
            ),
            overdue_approval=current(
                _report_overdue_approval(p, as_of, report_approval_hours),
                p.c.verified_at.asc(),
                lambda r: _item(
                    r,
                    r.verified_at,
                    "ESC-02",
                    age_hours=hours(r.verified_at, as_of),
                    limit_hours=report_approval_hours,
                ),
            ),
            expiring=current(
                _report_expiring(p, as_of, report_expiring_hours),
                p.c.valid_until.asc(),
                lambda r: _item(
                    r,
                    r.valid_until,
                    "LIFE-23",
                    status=r.status,
                    minutes_left=int((r.valid_until - as_of).total_seconds() // 60),
                ),
            ),
            isolation_pending=current(
                _isolation_pending(p, as_of),
                p.c.created_at.asc(),
                lambda r: _item(
                    r,
                    None,
                    "ISO-10" if r.required_isolations else "ISO-09",
                    status=_effective_of(r, as_of),
                    required=r.required_isolations,
                    verified=r.verified_isolations,
                ),
            ),
            closeout_pending=current(
                [or_(p.c.status == Status.COMPLETED.value, _is(p, as_of, Status.EXPIRED))],
                p.c.created_at.asc(),
                lambda r: _item(
                    r,
                    r.handed_back_at if r.status == Status.COMPLETED.value else r.expires_at,
                    "CLO-04" if r.status == Status.COMPLETED.value else "LIFE-20",
                    status=_effective_of(r, as_of),
                ),
            ),
            orphan_isolations=_orphans(conn, v, project_id, cap),
            lock_removals_by_exception=recorded(kinds.LOCK_REMOVAL_EXCEPTION),
            sod_relaxations=recorded(kinds.SOD_RELAXATION),
            gas_failures=recorded(kinds.GAS_FAILURE),
            automatic_suspensions=recorded(kinds.AUTOMATIC_SUSPENSION),
            missed_handovers=recorded(kinds.MISSED_HANDOVER),
            conflicts_accepted_with_controls=recorded(kinds.CONFLICT_ACCEPTED),
            expired_while_live=recorded(kinds.EXPIRED_WHILE_LIVE),
            incomplete_hand_backs=recorded(kinds.INCOMPLETE_HAND_BACK),
            signature_invalidations=recorded(kinds.SIGNATURE_INVALIDATION),
            deisolation_deferred_to_operations=recorded(kinds.DEFERRED_TO_OPERATIONS),
        )


def _report_overdue_verification(p: Table, as_of: datetime, hours: int) -> list[ColumnElement[bool]]:
    return [_is(p, as_of, Status.SUBMITTED), p.c.submitted_at <= as_of - timedelta(hours=hours)]


def _report_overdue_approval(p: Table, as_of: datetime, hours: int) -> list[ColumnElement[bool]]:
    return [_is(p, as_of, Status.UNDER_REVIEW), p.c.verified_at <= as_of - timedelta(hours=hours)]


def _report_expiring(p: Table, as_of: datetime, hours: int) -> list[ColumnElement[bool]]:
    return [
        _is(p, as_of, *EXPIRING),
        p.c.valid_until > as_of,
        p.c.valid_until <= as_of + timedelta(hours=hours),
    ]


def _isolation_pending(p: Table, as_of: Instant) -> list[ColumnElement[bool]]:
    return [_is(p, as_of, *ISOLATION_STAGES), p.c.isolation_pending.is_(True)]


def _orphans(conn: Connection, v: dict[str, Table], project_id: UUID, cap: int) -> ExceptionList:
    """In place, no holding permit linked (LIFE-03: holding is approved..expired, so expiry changes nothing),
    not operations-held (ISO-14)."""
    i, links, p = v["kpi_isolations"], v["kpi_isolation_links"], v["kpi_permits"]
    holding = (Status.APPROVED, Status.ACTIVE, Status.SUSPENDED, Status.EXPIRED)
    held = exists().where(
        links.c.isolation_id == i.c.isolation_id,
        p.c.permit_id == links.c.permit_id,
        p.c.status.in_([s.value for s in holding]),
    )
    conditions = [i.c.project_id == project_id, i.c.in_place.is_(True), i.c.operations_held.is_(False), ~held]
    total = _count(conn, i, *conditions)
    rows = conn.execute(
        select(i).where(*conditions).order_by(i.c.isolated_at.asc(), i.c.point_code.asc()).limit(cap)
    ).all()
    items = [
        ExceptionItem(
            permit_id=None,
            number=None,
            at=r.isolated_at,
            rule="LIFE-03",
            facts={"isolation_id": str(r.isolation_id), "point_code": r.point_code, "status": r.status},
        )
        for r in rows
    ]
    return ExceptionList(total=total, truncated=total > cap, items=items)


def _recorded(
    conn: Connection, v: dict[str, Table], project_id: UUID, kind: str, window: ReportWindow, cap: int
) -> ExceptionList:
    f, p = v["kpi_facts"], v["kpi_permits"]
    conditions = [f.c.project_id == project_id, f.c.kind == kind, f.c.at >= window.start, f.c.at < window.end]
    total = _count(conn, f, *conditions)
    rows = conn.execute(
        select(f.c.permit_id, p.c.number, f.c.at, f.c.rule, f.c.detail)
        .select_from(f.outerjoin(p, p.c.permit_id == f.c.permit_id))
        .where(*conditions)
        .order_by(f.c.at.asc(), f.c.position.asc())
        .limit(cap)
    ).all()
    items = [
        ExceptionItem(
            permit_id=r.permit_id, number=r.number, at=r.at, rule=r.rule, facts=msgspec.json.decode(r.detail)
        )
        for r in rows
    ]
    return ExceptionList(total=total, truncated=total > cap, items=items)


def _item(row: Any, at: datetime | None, rule: str, **facts: Any) -> ExceptionItem:
    return ExceptionItem(permit_id=row.permit_id, number=row.number, at=at, rule=rule, facts=facts)


def _hours_since(since: datetime, as_of: datetime) -> float:
    return _round((as_of - since).total_seconds() / 3600, 1)


def _effective_of(row: Any, as_of: datetime) -> str:
    return Status.EXPIRED.value if row.expires_at is not None and row.expires_at <= as_of else str(row.status)


# --- shared --------------------------------------------------------------------------------------------------


def _window(
    date_from: date | str | None, date_to: date | str | None, as_of: datetime, zone: ZoneInfo
) -> ReportWindow:
    """RPT-01: whole days in the project's time zone, both ends inclusive; default the last 30 days up to (and
    including) as_of's day."""
    last = _day("date_to", date_to) if date_to is not None else as_of.astimezone(zone).date()
    first = _day("date_from", date_from) if date_from is not None else last - timedelta(days=29)
    if first > last:
        raise InvalidQuery("date_from", f"{first.isoformat()} is after date_to {last.isoformat()}")
    return ReportWindow(
        date_from=first,
        date_to=last,
        time_zone=zone.key,
        start=datetime.combine(first, time(), zone),
        end=datetime.combine(last + timedelta(days=1), time(), zone),
    )


def _day(parameter: str, value: date | str) -> date:
    if isinstance(value, datetime):
        raise InvalidQuery(parameter, "give a date (YYYY-MM-DD), not an instant")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidQuery(parameter, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _aware(parameter: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise InvalidQuery(parameter, "needs a UTC offset")


def _positive(parameter: str, value: int, *, most: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidQuery(parameter, "must be a positive whole number")
    if most is not None and value > most:
        raise InvalidQuery(parameter, f"must be at most {most}")


def _effective(p: Table, as_of: Instant) -> Any:
    """TIME-05: from its expiry instant a permit counts as expired, recorded or not."""
    return case(
        (and_(p.c.expires_at.is_not(None), p.c.expires_at <= as_of), Status.EXPIRED.value), else_=p.c.status
    )


def _is(p: Table, as_of: Instant, *wanted: Status) -> ColumnElement[bool]:
    return effective_status_in(p, wanted, as_of)


def _count(conn: Connection, table: Table, *where: ColumnElement[bool]) -> int:
    count: int = conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    return count


def _round(value: float, places: int) -> float:
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def _filters(
    v: dict[str, Table], q: KpiFilters, as_of: datetime, zone: ZoneInfo
) -> list[ColumnElement[bool]]:
    """RM-01/RM-02 as the permit list applies them, on the KPI table's columns."""
    return common_filters(v["kpi_permits"], v["kpi_conflicts"], q, as_of, zone)
