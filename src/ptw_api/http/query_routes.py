"""Every query of domain.md §20 (but exports) as a GET endpoint over the read models.

Reads are answered from the projections' tables, never by replaying the store (one permit's stream at most,
for a permit at a version or instant). Each waits, briefly, until the projections it reads have passed the
caller's last write (RM-08). Parameters are declared from a query struct per endpoint so that the OpenAPI
document lists them; an unknown parameter or a malformed value is refused naming it (SEC-12).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import HttpMethod, Request, Response
from litestar.concurrency import sync_to_thread
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, HeaderParameter, QueryParameter

from ptw_api.http.auth import Principal
from ptw_api.http.openapi import QUERY_RESPONSES
from ptw_api.http.permissions import AUDIT_READERS, REPORT_READERS, GuardedRoute
from ptw_api.http.problems import problem
from ptw_api.http.runtime import Runtime
from ptw_api.http.wire import PATH_IDS
from ptw_domain.chain import StreamVerdict
from ptw_domain.errors import NotFound
from ptw_domain.permit.readiness import Readiness
from ptw_domain.store.loader import NotCached
from ptw_projections import params
from ptw_projections.audit_trail.query import AuditPage, AuditQuery, list_audit_events
from ptw_projections.board.query import BoardAt, board_at
from ptw_projections.kpis.query import (
    ComplianceExceptions,
    ComplianceSummary,
    KpiFilters,
    KpiReport,
    compliance_exceptions,
    compliance_summary,
    kpis,
)
from ptw_projections.permit_list.detail import PermitDetail, permit_detail, permit_detail_at
from ptw_projections.permit_list.query import PermitPage, PermitQuery, list_permits
from ptw_projections.registers.query import (
    ConflictPage,
    IsolationPage,
    LockPage,
    conflict_register,
    isolation_register,
    lock_register,
)
from ptw_projections.tasks.query import TaskPage, my_tasks

Asked = Annotated[
    int | None,
    HeaderParameter(
        name="X-PTW-Min-Position",
        required=False,
        ge=0,
        schema_extra={"minimum": 0},  # Litestar drops `ge` from an optional parameter's schema
        description="Answer only once the read models have passed this store position (RM-08); commands "
        "return it as X-PTW-Position.",
    ),
]


class AsOf(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    as_of: str | None = None  # TIME-05: the instant time-dependent values are judged at; default now


class ListParams(PermitQuery, frozen=True, kw_only=True, forbid_unknown_fields=True):
    as_of: str | None = None


class AtParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: int | None = None
    at: str | None = None


class ReadinessParams(AtParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    as_me: bool = False  # RDY-05: evaluate the actor-dependent guards for the caller


class TaskParams(AsOf, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: str | None = None
    page: int | None = None
    page_size: int | None = None


class IsolationParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    state: str | None = None
    point: str | None = None
    permit: UUID | None = None
    orphan: bool | None = None
    page: int | None = None
    page_size: int | None = None


class LockParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    permit: UUID | None = None
    worker: UUID | None = None
    page: int | None = None
    page_size: int | None = None


class ConflictParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    state: str | None = "open"
    severity: str | None = None
    permit: UUID | None = None
    page: int | None = None
    page_size: int | None = None


class KpiParams(KpiFilters, frozen=True, kw_only=True, forbid_unknown_fields=True):
    as_of: str | None = None
    expiring_soon_hours: int = 4
    window_days: int = 30
    list_size: int = 10


class ReportParams(AsOf, frozen=True, kw_only=True, forbid_unknown_fields=True):
    date_from: date | None = None
    date_to: date | None = None
    report_verification_hours: int = 24
    report_approval_hours: int = 48
    report_expiring_hours: int = 24


class ExceptionParams(ReportParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    exceptions_cap: int = 50


class BoardParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    at: str | None = None  # default now


class VerifyParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    permit: UUID | None = None


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    """AUD-04: `ok`, or the first broken link of each stream that is not."""

    ok: bool
    streams: list[StreamVerdict]


Reader = Callable[[Request[Principal, Any, Any], Runtime, UUID, dict[str, UUID], Any], Any]


def query_route(
    path: str,
    *,
    operation_id: str,
    description: str,
    query: type[msgspec.Struct],
    returns: Any,
    reads: list[str],
    tag: str,
    roles: frozenset[str] | None = None,
    rate: str = "read",
    inline: bool = False,
) -> Callable[[Reader], HTTPRouteHandler]:
    """A GET handler at /projects/{project_id}/`path` whose query parameters are `query`'s fields.

    The read runs in Litestar's thread pool, or with `inline` in the event loop itself when the caller has no
    write to wait for (RM-08). Inline is for reads of one permit (a few indexed statements, then Python that
    holds the GIL anyway), whose hand-off to a pool thread and back cost more than their round trips hold up
    the loop; a read whose database time the filters decide (the list: an unindexed filter or a deep page takes
    hundreds of milliseconds) stays in the pool, where it holds up no other request (ADR 0016). An inline read
    that would wait on the store (readiness of a permit this worker's cache does not vouch for) raises NotCached
    having read nothing, and is answered in the pool instead."""

    def register(reader: Reader) -> HTTPRouteHandler:
        path_ids = PATH_IDS.findall(path)
        kw = inspect.Parameter.KEYWORD_ONLY
        signature = [
            inspect.Parameter("request", kw, annotation=Request[Principal, Any, Any]),
            inspect.Parameter("project_id", kw, annotation=FromPath[UUID]),
            *(inspect.Parameter(name, kw, annotation=FromPath[UUID]) for name in path_ids),
            inspect.Parameter("min_position", kw, annotation=Asked, default=None),
        ]
        for field in msgspec.structs.fields(query):
            kind = field.type if _plain(field.type) else str
            signature.append(
                inspect.Parameter(
                    # Litestar reserves some names (`state`); the others keep their own so that a refusal of a
                    # malformed value names the parameter the client sent (SEC-12)
                    f"q_{field.name}" if field.name in RESERVED_KWARGS else field.name,
                    kw,
                    annotation=Annotated[kind | None, QueryParameter(name=field.name, required=False)],
                    default=None,
                )
            )
        names = set(query.__struct_fields__)

        def answer(
            request: Request[Principal, Any, Any], asked: int | None, kwargs: dict[str, Any], in_loop: bool
        ) -> Any:
            runtime: Runtime = request.app.state.runtime
            project_id: UUID = kwargs.pop("project_id")
            ids = {name: kwargs.pop(name) for name in path_ids}
            # the position waited for, for a read that checks it itself (readiness, from the watched cache)
            request.state.caller_position = runtime.wait_for_caller(request.user.sub, asked, reads)
            # in the event loop a read of the store raises NotCached (readiness): it is answered in the pool
            request.state.cached_only = in_loop
            given = {k.removeprefix("q_"): v for k, v in kwargs.items() if v is not None}
            return reader(request, runtime, project_id, ids, params.parse_query(given, query))

        async def handler(**kwargs: Any) -> Any:
            request: Request[Principal, Any, Any] = kwargs.pop("request")
            refuse_unknown_parameters(request, names)
            nul = sorted({k for k, v in request.query_params.multi_items() if "\x00" in v})
            if nul:  # SEC-11: PostgreSQL cannot compare text holding one (a 500 otherwise)
                raise problem(
                    "validation_failed",
                    422,
                    f"parameter {nul[0]!r} contains a NUL character",
                    rule_ids=("SEC-11",),
                    fields=tuple(nul),
                )
            asked = kwargs.pop("min_position")
            runtime: Runtime = request.app.state.runtime
            if inline and not runtime.must_wait(request.user.sub, asked):
                try:
                    return answer(request, asked, dict(kwargs), True)
                except NotCached:
                    pass  # it reads the store: in the pool, where the wait holds up no other request
            return await sync_to_thread(answer, request, asked, kwargs, False)

        handler.__signature__ = inspect.Signature(signature, return_annotation=returns)  # type: ignore[attr-defined]
        handler.__annotations__ = {p.name: p.annotation for p in signature} | {"return": returns}
        handler.__name__ = handler.__qualname__ = reader.__name__
        handler.__doc__ = description
        return GuardedRoute(
            "/projects/{project_id:uuid}" + path,
            http_method=HttpMethod.GET,
            operation_id=operation_id,
            summary=operation_id,
            description=description,
            tags=[tag],
            responses=QUERY_RESPONSES,
            opt={"rate": rate, "roles": roles},
        )(handler)

    return register


def refuse_unknown_parameters(request: Request[Any, Any, Any], known: set[str]) -> None:
    """SEC-12: a query parameter the endpoint does not take is refused naming it, never ignored."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise problem(
            "validation_failed",
            422,
            f"unknown parameter {unknown[0]!r}",
            rule_ids=("SEC-12",),
            fields=tuple(unknown),
        )


def _plain(kind: Any) -> bool:
    """Types Litestar decodes from a query string itself; text fields pass through as strings."""
    return kind in (int, bool, UUID, date, int | None, bool | None, UUID | None, date | None)


def _as_of(runtime: Runtime, value: str | None, name: str = "as_of") -> datetime:
    return params.instant(name, value) if value else runtime.service.clock.now()


@query_route(
    "/permits",
    operation_id="listPermits",
    description="RM-01..05: filtered, sorted, paged permit list; time-dependent values at `as_of` (TIME-05); "
    "`needs_review` filters on and shows the sync review list (SYNC-07); `ready_for`, `blocked` and `blocked_by` "
    "filter on the next action's stored readiness while it holds at `as_of` (RDY-01, ADR 0014).",
    query=ListParams,
    returns=PermitPage,
    reads=["permit_list", "tasks", "sync_ledger", "readiness"],
    tag="permits",
)
def list_permits_route(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: ListParams) -> PermitPage:
    fields = msgspec.structs.asdict(q)
    as_of = _as_of(runtime, fields.pop("as_of"))
    return list_permits(runtime.reads, project_id, PermitQuery(**fields), as_of=as_of)


@query_route(
    "/permits/{permit_id:uuid}",
    operation_id="getPermit",
    description="RM-06: a permit's detail with its signatures (SIG-11), chain head and conflicts; the `ETag` "
    "header is its version, the next command's `If-Match` (SEC-10).",
    query=AsOf,
    returns=PermitDetail,
    reads=["permit_list"],
    tag="permits",
    inline=True,
)
def permit_route(
    _r: Any, runtime: Runtime, project_id: UUID, ids: dict[str, UUID], q: AsOf
) -> Response[PermitDetail]:
    detail = permit_detail(runtime.reads, project_id, ids["permit_id"], as_of=_as_of(runtime, q.as_of))
    return Response(detail, headers={"ETag": f'"{detail.version}"'})


@query_route(
    "/permits/{permit_id:uuid}/at",
    operation_id="getPermitAt",
    description="BRD-02: the permit as it was at `version` N or instant `at` (exactly one of them).",
    query=AtParams,
    returns=PermitDetail,
    reads=["permit_list", "board"],
    tag="permits",
)
def permit_at_route(
    _r: Any, runtime: Runtime, project_id: UUID, ids: dict[str, UUID], q: AtParams
) -> PermitDetail:
    at = params.instant("at", q.at) if q.at else None
    return permit_detail_at(
        runtime.service, runtime.reads, project_id, ids["permit_id"], version=q.version, at=at
    )


@query_route(
    "/permits/{permit_id:uuid}/readiness",
    operation_id="getReadiness",
    description="RDY-01..09: what may happen next to the permit and why not, now or at a past version or "
    "instant; `as_me=true` evaluates the actor-dependent guards for the caller (RDY-05). Reflects the caller's "
    "last write and the `X-PTW-Min-Position` named (RM-08); another client's write of the last ~10 ms may not "
    "be in it yet, and `version` says what was judged.",
    query=ReadinessParams,
    returns=Readiness,
    reads=[],
    tag="permits",
    inline=True,
)
def readiness_route(
    request: Request[Principal, Any, Any],
    runtime: Runtime,
    project_id: UUID,
    ids: dict[str, UUID],
    q: ReadinessParams,
) -> Readiness:
    actor = request.user.actor_in(project_id) if q.as_me else None
    at = params.instant("at", q.at) if q.at else None
    return runtime.service.readiness(
        ids["permit_id"],
        actor=actor,
        at=at,
        version=q.version,
        within=project_id,
        at_least=request.state.caller_position,  # RM-08: the caller's last write, or the position named
        cached_only=request.state.cached_only,
    )


@query_route(
    "/tasks",
    operation_id="myTasks",
    description="RM-09: the caller's open tasks in the project, most overdue first.",
    query=TaskParams,
    returns=TaskPage,
    reads=["tasks"],
    tag="permits",
)
def tasks_route(
    request: Request[Principal, Any, Any], runtime: Runtime, project_id: UUID, _ids: Any, q: TaskParams
) -> TaskPage:
    actor = request.user.actor_in(project_id)
    return my_tasks(
        runtime.reads,
        project_id,
        person_id=actor.person_id,
        roles=actor.member.roles,
        as_of=_as_of(runtime, q.as_of),
        kind=q.kind,
        page=q.page,
        page_size=q.page_size,
    )


@query_route(
    "/registers/isolations",
    operation_id="isolationRegister",
    description="RM-10: isolations by state, point or permit, with their locks and linked permits.",
    query=IsolationParams,
    returns=IsolationPage,
    reads=["registers"],
    tag="registers",
)
def isolations_route(
    _r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: IsolationParams
) -> IsolationPage:
    return isolation_register(runtime.reads, project_id, **msgspec.structs.asdict(q))


@query_route(
    "/registers/locks",
    operation_id="lockRegister",
    description="RM-10: personal locks in place, by permit or worker.",
    query=LockParams,
    returns=LockPage,
    reads=["registers"],
    tag="registers",
)
def locks_route(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: LockParams) -> LockPage:
    return lock_register(runtime.reads, project_id, **msgspec.structs.asdict(q))


@query_route(
    "/registers/conflicts",
    operation_id="conflictRegister",
    description="RM-10: SIMOPS conflicts by state, severity or permit.",
    query=ConflictParams,
    returns=ConflictPage,
    reads=["registers"],
    tag="registers",
)
def conflicts_route(
    _r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: ConflictParams
) -> ConflictPage:
    return conflict_register(runtime.reads, project_id, **msgspec.structs.asdict(q))


@query_route(
    "/kpis",
    operation_id="getKpis",
    description="KPI-01..13 for the permits matching the RM-01 filters, at `as_of`, thresholds echoed.",
    query=KpiParams,
    returns=KpiReport,
    reads=["kpis"],
    tag="reports",
    rate="kpis",
)
def kpis_route(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: KpiParams) -> KpiReport:
    fields = msgspec.structs.asdict(q)
    as_of = _as_of(runtime, fields.pop("as_of"))
    figures = {k: fields.pop(k) for k in ("expiring_soon_hours", "window_days", "list_size")}
    return kpis(runtime.reads, project_id, as_of=as_of, filters=KpiFilters(**fields), **figures)


@query_route(
    "/reports/compliance-summary",
    operation_id="getComplianceSummary",
    description="RPT-01/02: the compliance summary for whole project days (default the last 30).",
    query=ReportParams,
    returns=ComplianceSummary,
    reads=["kpis"],
    tag="reports",
    roles=REPORT_READERS,
)
def summary_route(
    _r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: ReportParams
) -> ComplianceSummary:
    fields = msgspec.structs.asdict(q)
    as_of = _as_of(runtime, fields.pop("as_of"))
    return compliance_summary(runtime.reads, project_id, as_of=as_of, **fields)


@query_route(
    "/reports/compliance-exceptions",
    operation_id="getComplianceExceptions",
    description="RPT-03: the exception lists, each capped with its total and whether it was truncated.",
    query=ExceptionParams,
    returns=ComplianceExceptions,
    reads=["kpis"],
    tag="reports",
    roles=REPORT_READERS,
)
def exceptions_route(
    _r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: ExceptionParams
) -> ComplianceExceptions:
    fields = msgspec.structs.asdict(q)
    as_of = _as_of(runtime, fields.pop("as_of"))
    return compliance_exceptions(runtime.reads, project_id, as_of=as_of, **fields)


@query_route(
    "/audit-trail",
    operation_id="getAuditTrail",
    description="RM-11: every recorded change with its envelope, actor, before/after and hash.",
    query=AuditQuery,
    returns=AuditPage,
    reads=["audit_trail"],
    tag="audit",
    roles=AUDIT_READERS,
)
def audit_route(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: AuditQuery) -> AuditPage:
    return list_audit_events(runtime.reads, project_id, q)


@query_route(
    "/audit/verification",
    operation_id="verifyChain",
    description="AUD-04: recompute the hash chains of a permit (with its isolations and conflicts), or of the "
    "project's permits when no permit is named.",
    query=VerifyParams,
    returns=ChainReport,
    reads=[],
    tag="audit",
    roles=AUDIT_READERS,
)
def verify_route(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: VerifyParams) -> ChainReport:
    service = runtime.service
    if q.permit is not None:
        try:
            foreign = service.permit(q.permit).project_id != project_id
        except NotFound:
            foreign = True  # TEN-02: an unknown permit answers exactly like another project's
        if foreign:
            raise NotFound("no such permit", facts={"field": "permit"})
        streams = service.permit_streams(q.permit)
    else:
        streams = [project_id, *service.project(project_id).permits.values()]
    verdicts = service.verify_chain(streams)
    return ChainReport(ok=all(v.ok for v in verdicts), streams=verdicts)


@query_route(
    "/board",
    operation_id="getBoardAt",
    description="BRD-01: the site board at instant `at` (default now): live permits, isolations in place, "
    "open conflicts, judged at that instant.",
    query=BoardParams,
    returns=BoardAt,
    reads=["board"],
    tag="permits",
)
def board_route(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, q: BoardParams) -> BoardAt:
    return board_at(runtime.reads, project_id, _as_of(runtime, q.at, "at"))


def query_handlers() -> list[HTTPRouteHandler]:
    return [
        list_permits_route,
        permit_route,
        permit_at_route,
        readiness_route,
        tasks_route,
        isolations_route,
        locks_route,
        conflicts_route,
        kpis_route,
        summary_route,
        exceptions_route,
        audit_route,
        verify_route,
        board_route,
    ]
