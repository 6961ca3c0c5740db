"""Offline sync over HTTP (domain.md §16; ADR 0013): `POST /projects/{p}/sync` and the two reads of the sync
ledger projection (review list, health), which wait for the caller's last write like every query (RM-08).

Each command of a batch carries, as `payload`, exactly the body its online endpoint takes (`command_routes.ROUTES`,
`wire.body_type`), decoded as strictly (SEC-12) and made into the same domain command (`build_command`). A payload
that does not decode is not a 422 for the whole batch: that command alone is rejected `validation_failed` and
recorded, so one bad command never blocks a device's queue. The envelope itself is strict (422), at most 200
commands (SYNC-01) in at most 2 MiB (413, SEC-11).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import HttpMethod, Request, Response
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, RawBody
from msgspec import Meta

from ptw_api.http.auth import Principal
from ptw_api.http.command_routes import ROUTES, CommandRoute, build_command, strict_decoder, strictly
from ptw_api.http.openapi import PROBLEM_RESPONSES
from ptw_api.http.permissions import GuardedRoute
from ptw_api.http.problems import Blocker
from ptw_api.http.query_routes import query_route
from ptw_api.http.runtime import Runtime, correlation_id
from ptw_api.http.wire import body_type
from ptw_domain import commands as c
from ptw_domain.sync import (
    MAX_COMMANDS,
    Invalid,
    SyncBatch,
    SyncItem,
    created_id,
    is_temporary,
    temporary_id,
)
from ptw_domain.sync.batch import MAX_BODY_BYTES
from ptw_projections.sync_ledger.query import SyncHealth, SyncReviewList
from ptw_projections.sync_ledger.query import sync_health as health
from ptw_projections.sync_ledger.query import sync_review_list as review_list

Text = Annotated[str, Meta(min_length=1, max_length=200)]
Instant = Annotated[datetime, Meta(tz=True)]


class SyncCommandRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """SYNC-01: one offline command. `command` is the command's name (e.g. `SubmitPermit`); `target` a permit
    id, `tmp:<name>` (a permit created earlier in the batch; on a CreatePermit, the reference it creates) or an
    isolation id; `payload` the body the online endpoint of that command takes."""

    client_command_id: Text
    command: Text
    target: Text | None = None
    based_on_version: Annotated[int, Meta(ge=1)] | None = None
    device_time: Instant
    confirm_not_duplicate: bool = False  # SYNC-10
    payload: dict[str, Any] = msgspec.field(default_factory=dict)


class SyncBatchRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    device_id: Text
    batch_id: Text
    sent_at: Instant
    commands: Annotated[tuple[SyncCommandRequest, ...], Meta(max_length=MAX_COMMANDS)]


class _StrictCommand(SyncCommandRequest, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """As read from the raw body: the payload stays JSON, decoded with its command's body type (SEC-12)."""

    payload: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))  # type: ignore[assignment]


class _StrictBatch(SyncBatchRequest, frozen=True, kw_only=True, forbid_unknown_fields=True):
    commands: Annotated[tuple[_StrictCommand, ...], Meta(max_length=MAX_COMMANDS)]


class SyncField(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    device: Any = None
    server: Any = None
    hint: str


class SyncServerState(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    id: UUID
    status: str
    version: int
    number: str | None = None
    core_hash: str | None = None


class SyncCommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-13: what became of one command; `created` and `permit_number` name what a temporary reference
    (`ref`) became; `version` is the target's new version, the next `based_on_version`."""

    client_command_id: str
    command: str
    outcome: str
    replayed: bool = False
    reason: str | None = None
    detail: str = ""
    rule_ids: tuple[str, ...] = ()
    target: str | None = None
    ref: str | None = None
    stream_id: UUID | None = None
    version: int | None = None
    events: tuple[str, ...] = ()
    created: dict[str, UUID] = msgspec.field(default_factory=dict)
    permit_number: str | None = None
    rebased_over: tuple[str, ...] = ()
    no_change: bool = False
    blockers: tuple[Blocker, ...] = ()
    fields: tuple[SyncField, ...] = ()
    invalid_fields: tuple[str, ...] = ()
    server_state: SyncServerState | None = None
    needs_review: bool = False
    permit_id: UUID | None = None


class SyncTotals(msgspec.Struct, frozen=True, kw_only=True):
    applied: int
    conflict: int
    rejected: int
    replayed: int


class SyncResponse(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    batch_id: str
    results: tuple[SyncCommandResult, ...]
    totals: SyncTotals
    position: int | None = None


def _offline(route: CommandRoute) -> bool:
    """SYNC-01: a batch creates permits and acts on permits and isolations."""
    if route.organisation:
        return False
    return route.command is c.CreatePermit or route.path_ids in (("permit_id",), ("isolation_id",))


SYNC_ROUTES: dict[str, CommandRoute] = {r.command.__name__: r for r in ROUTES if _offline(r)}
_BODIES = {
    name: body_type(
        route.command, path=frozenset(route.path_ids) | {"project_id"}, created=frozenset(route.created)
    )
    for name, route in SYNC_ROUTES.items()
}
for _kind in (_StrictBatch, SyncCommandResult, SyncTotals, *_BODIES.values()):
    strict_decoder(_kind)  # made now, not by the first requests (see strict_decoder)
_FIELD = re.compile(r"unknown field `([^`]+)`|at `\$\.([^`]+)`")


def _invalid(item: _StrictCommand, detail: str, *fields: str) -> SyncItem:
    return SyncItem(
        client_command_id=item.client_command_id,
        name=item.command,
        device_time=item.device_time,
        target=item.target,
        based_on_version=item.based_on_version,
        confirm_not_duplicate=item.confirm_not_duplicate,
        invalid=Invalid(detail, fields),
    )


def _target_ids(route: CommandRoute, target: str | None) -> dict[str, UUID] | None:
    """The path ids the target stands for (a temporary reference's placeholder id), or None if it names none."""
    if not route.path_ids:
        return {}
    if target is None:
        return None
    if is_temporary(target) and route.path_ids == ("permit_id",):
        return {"permit_id": temporary_id(target)}
    try:
        return {route.path_ids[0]: UUID(target)}
    except ValueError:
        return None


def decode_item(
    request: Request[Principal, Any, Any], project_id: UUID, device_id: str, item: _StrictCommand
) -> SyncItem:
    """The domain command an offline command makes, built like its online request; or why it makes none."""
    route = SYNC_ROUTES.get(item.command)
    if route is None:
        return _invalid(item, f"{item.command!r} is not a command that can be synced", "command")
    try:
        data = strict_decoder(_BODIES[item.command]).decode(item.payload)
    except msgspec.ValidationError as error:
        found = _FIELD.search(str(error))
        field = f"payload.{found.group(1) or found.group(2)}" if found else "payload"
        return _invalid(item, str(error), field)
    ids = _target_ids(route, item.target)
    if ids is None:
        return _invalid(item, "the target must be an id or a temporary reference tmp:<name>", "target")
    runtime: Runtime = request.app.state.runtime
    context = c.CommandContext(
        correlation_id=correlation_id(request),
        client_app=request.headers.get("user-agent", "")[:200] or None,
    )
    command, created, _ = build_command(
        runtime,
        request.user,
        route,
        data,
        {"project_id": project_id, **ids},
        make_id=lambda name: created_id(project_id, device_id, item.client_command_id, name),
        context=context,
    )
    return SyncItem(
        client_command_id=item.client_command_id,
        name=item.command,
        device_time=item.device_time,
        command=command,
        target=item.target,
        based_on_version=item.based_on_version,
        confirm_not_duplicate=item.confirm_not_duplicate,
        created=created,
    )


@GuardedRoute(
    "/projects/{project_id:uuid}/sync",
    http_method=HttpMethod.POST,
    operation_id="syncOfflineBatch",
    summary="SyncOfflineBatch",
    description="Run an offline device's batch (SYNC-01..13): up to 200 commands in at most 2 MiB, in order, each "
    "atomically through the same handlers, guards and authorisation as online at server time (SYNC-02, SYNC-04). "
    "Each command's `payload` is the body of its online endpoint. A repeat of (device, client_command_id) returns "
    "the stored outcome with `replayed: true` and records nothing (SYNC-03). A command based on an older version "
    "is applied over later events unless they changed what it writes, the status or, for a signature, the core "
    "hash (`stale_version` with per-field hints, SYNC-05/06); guard failures put the permit on the review list "
    "(SYNC-07); isolations move forward only (SYNC-08); foreign ids are `not_found` (SYNC-09); suspected "
    "duplicate creates conflict (SYNC-10). Not for auditors or integrations (SEC-04); 60 per minute (SEC-06).",
    tags=["offline sync"],
    sync_to_thread=True,
    status_code=200,
    responses=PROBLEM_RESPONSES,
    request_max_body_size=MAX_BODY_BYTES,
    opt={"rate": "sync"},
)
def sync_offline_batch(
    request: Request[Principal, Any, Any],
    project_id: FromPath[UUID],
    data: JSONBody[SyncBatchRequest],
    body: RawBody,
) -> Response[SyncResponse]:
    runtime: Runtime = request.app.state.runtime
    principal = request.user
    actor = principal.actor_in(project_id)
    sent = strictly(_StrictBatch, body)  # SEC-12: `data` was converted leniently; decode as the online bodies
    assert isinstance(sent, _StrictBatch)
    items = tuple(decode_item(request, project_id, sent.device_id, item) for item in sent.commands)
    batch = SyncBatch(device_id=sent.device_id, batch_id=sent.batch_id, sent_at=sent.sent_at, commands=items)
    report = runtime.service.sync(batch, actor, within=project_id)
    runtime.remember(principal.sub, report.position)
    results = tuple(
        msgspec.convert({**msgspec.to_builtins(r.outcome), "replayed": r.replayed}, SyncCommandResult)
        for r in report.results
    )
    answer = SyncResponse(
        device_id=report.device_id,
        batch_id=report.batch_id,
        results=results,
        totals=msgspec.convert(report.totals, SyncTotals),
        position=report.position,
    )
    headers = {"X-PTW-Position": str(report.position)} if report.position is not None else {}
    return Response(answer, status_code=200, headers=headers)


class NoParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The sync reads take no parameters (SEC-12: any is refused, naming it)."""


@query_route(
    "/sync/review",
    operation_id="getSyncReviewList",
    description="The project's sync review list (SYNC-07): permits whose offline command failed a guard at sync "
    "time, with that command and its blockers, oldest first, until a later offline command on the permit is "
    "applied. Read from the sync ledger projection; the permit list's `needs_review` shows the same.",
    query=NoParams,
    returns=SyncReviewList,
    reads=["sync_ledger"],
    tag="offline sync",
)
def sync_review_list(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, _q: NoParams) -> SyncReviewList:
    return review_list(runtime.reads, project_id)


@query_route(
    "/sync/health",
    operation_id="getSyncHealth",
    description="Sync health (SYNC-12): offline commands applied, in conflict and rejected over the last 24 hours, "
    "by reason, and the devices that synced. Replays record nothing and are not counted.",
    query=NoParams,
    returns=SyncHealth,
    reads=["sync_ledger"],
    tag="offline sync",
)
def sync_health(_r: Any, runtime: Runtime, project_id: UUID, _ids: Any, _q: NoParams) -> SyncHealth:
    return health(runtime.reads, project_id, until=runtime.service.clock.now())


def sync_handlers() -> list[HTTPRouteHandler]:
    return [sync_offline_batch, sync_review_list, sync_health]
