"""Every command of domain.md §20 (but webhooks and exports) as a POST endpoint.

One table names, per command, its path, its description and the ids the server may create; the handlers are
made from it, so each command runs the same way: the actor from the token for the path's project (ROLE-08),
the target checked to belong to that project (TEN-02), `Idempotency-Key` (SEC-09) and `If-Match` (SEC-10)
passed to the service, the store position returned for read-your-writes (RM-08).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import msgspec
from litestar import HttpMethod, Request, Response
from litestar.concurrency import sync_to_thread
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, HeaderParameter, JSONBody, RawBody

from ptw_api.http.auth import Principal
from ptw_api.http.openapi import PROBLEM_RESPONSES
from ptw_api.http.permissions import GuardedRoute
from ptw_api.http.problems import problem
from ptw_api.http.runtime import Runtime, correlation_id
from ptw_api.http.wire import PATH_IDS, CommandOutcome, body_type
from ptw_domain import commands as c
from ptw_domain.closeout import commands as closeout
from ptw_domain.gas import commands as gas
from ptw_domain.handover import commands as handover
from ptw_domain.isolation import commands as isolation
from ptw_domain.people import commands as people
from ptw_domain.records import commands as records
from ptw_domain.service import CommandResult
from ptw_domain.simops import commands as simops

_NEW_IDS = uuid5(NAMESPACE_URL, "urn:ptw:api:new-id")
_ETAG = re.compile(r'^(?:W/)?"(\d+)"$')


class CommandRoute(msgspec.Struct, frozen=True):
    command: type[c.Command]
    path: str  # below /api/v1/projects/{project_id} (or /api/v1/organisation for organisation settings)
    summary: str
    tag: str
    created: tuple[str, ...] = ()
    organisation: bool = False

    @property
    def path_ids(self) -> tuple[str, ...]:
        return tuple(PATH_IDS.findall(self.path))


def _permit(command: type[c.Command], action: str, summary: str, *created: str) -> CommandRoute:
    return CommandRoute(command, f"/permits/{{permit_id:uuid}}/{action}", summary, "permit commands", created)


R = CommandRoute
ROUTES: tuple[CommandRoute, ...] = (
    # configuration
    R(
        c.OpenProject,
        "/projects",
        "Open a project of the caller's organisation (TEN-06); needs org_admin.",
        "organisation",
        ("project_id",),
        organisation=True,
    ),
    R(
        c.PublishTemplateVersion,
        "/templates",
        "Publish a new version of a permit template (TPL-01).",
        "organisation",
        organisation=True,
    ),
    R(
        c.RetireTemplate,
        "/templates/retire",
        "Retire a template: no new permits from it (TPL-05).",
        "organisation",
        organisation=True,
    ),
    R(
        c.PublishRolePolicy,
        "/role-policies",
        "Publish a new role policy version (ROLE-04).",
        "organisation",
        organisation=True,
    ),
    R(
        gas.PublishGasLimitProfile,
        "/gas-limit-profiles",
        "Publish a gas limit profile version (GAS-03).",
        "organisation",
        organisation=True,
    ),
    R(c.ChangeProjectSettings, "/settings", "Change the project's settings (TEN-06).", "project settings"),
    R(
        c.PublishTemplateOverride,
        "/template-overrides",
        "Publish a project override of a template (TPL-03).",
        "project settings",
    ),
    R(
        c.WithdrawTemplateOverride,
        "/template-overrides/withdraw",
        "Withdraw a project template override.",
        "project settings",
    ),
    R(
        simops.PublishZoneMap,
        "/zone-maps",
        "Publish the project's next zone map of adjacent areas; conflicts are re-evaluated (SIM-02, SIM-09).",
        "project settings",
    ),
    R(
        simops.PublishSimopsMatrix,
        "/simops-matrices",
        "Publish the project's next SIMOPS interaction matrix; conflicts are re-evaluated (SIM-05, SIM-09).",
        "project settings",
    ),
    R(
        c.GrantDelegation,
        "/delegations",
        "Delegate your own task for a permit or a time window (DEL-01).",
        "delegation",
        ("delegation_id",),
    ),
    R(
        c.RevokeDelegation,
        "/delegations/{delegation_id:uuid}/revoke",
        "Revoke a delegation (DEL-04).",
        "delegation",
    ),
    # permit workflow
    R(
        c.CreatePermit,
        "/permits",
        "Create a draft permit from a template (LIFE-04); allocates its number.",
        "permit commands",
        ("permit_id",),
    ),
    _permit(c.EditPermit, "edit", "Edit a permit's content, by status (LIFE-05)."),
    _permit(
        c.AmendPermit,
        "amend",
        "Amend a permit under review or approved; scope changes invalidate signatures (LIFE-05, SIG-07).",
    ),
    _permit(
        c.RebasePermitTemplate,
        "rebase-template",
        "Move a draft or rejected permit to the latest template version (TPL-04).",
    ),
    _permit(c.NominateVerifier, "nominate-verifier", "Nominate the verifier (LIFE-08)."),
    _permit(c.SubmitPermit, "submit", "Submit the draft for verification, signed (LIFE-07)."),
    _permit(c.ResubmitPermit, "resubmit", "Resubmit a rejected permit: a new cycle (LIFE-15)."),
    _permit(c.WithdrawPermit, "withdraw", "Withdraw a submitted permit back to draft (LIFE-14)."),
    _permit(c.VerifyPermit, "verify", "Verify, signed, and nominate the approvers (LIFE-09)."),
    _permit(c.RejectPermit, "reject", "Reject with a reason; ends the cycle (LIFE-12)."),
    _permit(c.NominateApprovers, "nominate-approvers", "Replace the approver nominations (LIFE-10)."),
    _permit(c.ApprovePermit, "approve", "Approve, signed; the first approver wins (LIFE-11)."),
    _permit(c.SendBackPermit, "send-back", "Send the permit back to the verifier (LIFE-13)."),
    _permit(c.CancelPermit, "cancel", "Cancel a permit that is not live (LIFE-22)."),
    # execution
    _permit(
        c.ActivatePermit,
        "activate",
        "Issue and accept in one act: the issuer's and the performing "
        "authority's signatures (LIFE-16, LIFE-17).",
    ),
    _permit(c.SuspendPermit, "suspend", "Stop work with a reason code (LIFE-18)."),
    _permit(c.ResumePermit, "resume", "Resume after revalidation, issued and accepted again (LIFE-19)."),
    _permit(c.RequestExtension, "request-extension", "Request a later end (EXT-01).", "extension_id"),
    _permit(c.DecideExtension, "decide-extension", "Approve or reject an extension request (EXT-03)."),
    _permit(c.CompletePermit, "complete", "Hand the work area back (LIFE-20, CLO-01)."),
    _permit(c.ClosePermit, "close", "Close after inspection (LIFE-21, CLO-05)."),
    _permit(
        handover.RecordHandover,
        "record-handover",
        "Hand a live permit over at shift change, signed by the outgoing person (HOV-02, SIG-01).",
        "handover_id",
    ),
    _permit(
        handover.AcknowledgeHandover,
        "acknowledge-handover",
        "Acknowledge a handover as the incoming person, signed; an isolating handover moves the isolation "
        "locks (HOV-04, LOCK-03).",
    ),
    # people
    R(
        people.RegisterWorker,
        "/workers",
        "Register a worker in the organisation's registry (WRK-01).",
        "people",
        ("worker_id",),
    ),
    R(
        people.UpdateWorker,
        "/workers/{worker_id:uuid}/update",
        "Update a worker's record (WRK-01).",
        "people",
    ),
    R(
        people.RecordCompetency,
        "/workers/{worker_id:uuid}/competencies",
        "Record a competency with its evidence (COMP-01).",
        "people",
        ("competency_id",),
    ),
    R(
        people.RevokeCompetency,
        "/workers/{worker_id:uuid}/revoke-competency",
        "Revoke a competency (COMP-04).",
        "people",
    ),
    R(
        isolation.AcknowledgeLockRemoval,
        "/workers/{worker_id:uuid}/acknowledge-lock-removal",
        "The worker acknowledges that their lock was removed by exception (LOCK-04).",
        "isolation",
    ),
    _permit(people.AssignWorker, "assign-worker", "Assign a worker with permit roles (WRK-02)."),
    _permit(people.ReleaseWorker, "release-worker", "Release a worker from the permit (WRK-04)."),
    _permit(people.HoldToolboxTalk, "hold-toolbox-talk", "Hold a toolbox talk (TBT-01).", "tbt_id"),
    _permit(people.AttendToolboxTalk, "attend-toolbox-talk", "Acknowledge attendance personally (TBT-02)."),
    _permit(
        people.PostAttendant, "post-attendant", "Post or stand down the confined-space attendant (CSE-01)."
    ),
    _permit(people.RecordEntry, "record-entry", "Record an entrant going in (CSE-02)."),
    _permit(people.RecordExit, "record-exit", "Record an entrant coming out (CSE-03)."),
    _permit(people.AssignFireWatch, "assign-fire-watch", "Assign the fire watch (SOD-08)."),
    _permit(people.CompleteFireWatch, "complete-fire-watch", "Complete the fire watch (CLO-03)."),
    # gas
    _permit(
        gas.RecordGasReading,
        "record-gas-reading",
        "Record a gas reading; the verdict is computed by the server (GAS-04).",
        "reading_id",
    ),
    _permit(gas.VoidGasReading, "void-gas-reading", "Void a gas reading with a reason (GAS-14)."),
    # isolation and locks
    R(
        isolation.RegisterIsolationPoint,
        "/isolation-points",
        "Register a point in the project's isolation point library (ISO-01).",
        "isolation",
    ),
    R(
        isolation.ReviseIsolationPoint,
        "/isolation-points/{point_id:uuid}/revise",
        "Revise a library point (ISO-01).",
        "isolation",
    ),
    R(
        isolation.DeactivateIsolationPoint,
        "/isolation-points/{point_id:uuid}/deactivate",
        "Deactivate a library point (ISO-01).",
        "isolation",
    ),
    _permit(
        isolation.AssignIsolationPoint,
        "assign-isolation-point",
        "Add an isolation point to the permit; shares the point's open isolation (ISO-02).",
    ),
    _permit(
        isolation.UnassignIsolationPoint,
        "unassign-isolation-point",
        "Remove an isolation point before approval (ISO-05).",
    ),
    R(
        isolation.IsolatePoint,
        "/isolations/{isolation_id:uuid}/isolate",
        "Record the point isolated and locked (ISO-04).",
        "isolation",
    ),
    R(
        isolation.VerifyIsolation,
        "/isolations/{isolation_id:uuid}/verify",
        "Verify an isolation; not by its isolator (ISO-06, SOD-03).",
        "isolation",
    ),
    R(
        isolation.DeisolatePoint,
        "/isolations/{isolation_id:uuid}/deisolate",
        "De-isolate; refused while a linked permit holds or a personal lock remains, or when the locks are "
        "another's without the LOCK-02 facts (ISO-11, ISO-12, ISO-13, LOCK-03).",
        "isolation",
    ),
    R(
        isolation.TransferIsolationToOperations,
        "/isolations/{isolation_id:uuid}/transfer-to-operations",
        "Leave the isolation in place under operations (ISO-14).",
        "isolation",
    ),
    R(
        isolation.RecordIsolationLockException,
        "/isolations/{isolation_id:uuid}/record-lock-exception",
        "Record the three LOCK-02 facts for a lock of the isolation, so another than its absent owner may "
        "de-isolate it (ISO-13); the owner is flagged at de-isolation (LOCK-04).",
        "isolation",
    ),
    _permit(isolation.ApplyPersonalLock, "apply-personal-lock", "Apply your personal lock (LOCK-01)."),
    _permit(isolation.RemovePersonalLock, "remove-personal-lock", "Remove your personal lock (LOCK-02)."),
    _permit(
        isolation.RecordLockRemovalException,
        "record-lock-removal-exception",
        "Remove an absent worker's lock with the three facts, or record them for a lock of a linked "
        "isolation (LOCK-02, ISO-13).",
    ),
    # close-out and records
    _permit(closeout.CheckCloseoutItem, "check-closeout-item", "Tick a close-out checklist item (CLO-04)."),
    _permit(closeout.UncheckCloseoutItem, "uncheck-closeout-item", "Untick a close-out item (CLO-04)."),
    _permit(
        closeout.ApplyInhibit, "apply-inhibit", "Record a safety system inhibited (CLO-06).", "inhibit_id"
    ),
    _permit(
        closeout.RestoreInhibit,
        "restore-inhibit",
        "Record an inhibit restored, confirmed by a second person (CLO-06).",
    ),
    _permit(
        records.AddAttachment,
        "add-attachment",
        "Attach a document kept elsewhere, by URI, SHA-256, media type and size (§4.1, SEC-11).",
    ),
    _permit(
        records.AnnotatePermit, "annotate", "Annotate the permit, closed or cancelled included (AUD-11)."
    ),
    _permit(records.LinkIncident, "link-incident", "Link an incident to the permit (RPT-04)."),
    # SIMOPS
    R(
        simops.ResolveConflict,
        "/conflicts/{conflict_id:uuid}/resolve",
        "Decide a SIMOPS conflict, bound to its facts hash (SIM-07).",
        "simops",
    ),
)


def new_id(subject: str, idempotency_key: str | None, field: str) -> UUID:
    """A server-made id; derived from the idempotency key when there is one, so a retried create names the
    same object and is recognised as the same command (SEC-09)."""
    if idempotency_key:
        return uuid5(_NEW_IDS, f"{subject}\x00{idempotency_key}\x00{field}")
    return uuid4()


def expected_version(if_match: str | None) -> int | None:
    """SEC-10: `If-Match: "<version>"`."""
    if if_match is None:
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise problem(
            "validation_failed",
            422,
            'If-Match takes the version as an entity tag, e.g. "7"',
            rule_ids=("SEC-10",),
            fields=("If-Match",),
        )
    return int(found.group(1))


# a request's command, the ids the server made for it (answered as `created`) and the project it must act within
Built = tuple[c.Command, dict[str, UUID], UUID | None]


def build_command(
    runtime: Runtime,
    principal: Principal,
    route: CommandRoute,
    data: msgspec.Struct,
    ids: dict[str, UUID],
    *,
    make_id: Callable[[str], UUID],
    context: c.CommandContext,
    expected: int | None = None,
) -> Built:
    """The domain command a request body makes (shared by the online endpoints and offline sync): the body's
    fields, the path's ids, the server-made ids the body leaves out (`make_id`), the actor from the token for
    the project (ROLE-08) and the server facts. Returns the command, the ids made, and the project it runs in
    (None for organisation settings)."""
    fields = {name: getattr(data, name) for name in data.__struct_fields__}
    created: dict[str, UUID] = {}
    for name in route.created:
        if fields.get(name) is None:
            fields[name] = created[name] = make_id(name)
    fields.update(ids)
    wanted = set(route.command.__struct_fields__)
    within = None if route.organisation else ids["project_id"]
    if within is None:
        actor = principal.organisation_actor()
        fields["organisation_id"] = runtime.organisation_of(principal)
    else:
        actor = principal.actor_in(within)
        if "organisation_id" in wanted:
            fields["organisation_id"] = runtime.service.project(within).organisation_id
    if "project_id" not in wanted:
        fields.pop("project_id", None)
    if issubclass(route.command, c.PermitCommand):
        fields["expected_version"] = expected
    return route.command(actor=actor, context=context, **fields), created, within


class Asked(NamedTuple):
    """A command request as the handler has read it: the body decoded strictly, the path's ids, the headers."""

    request: Request[Principal, Any, Any]
    route: CommandRoute
    data: msgspec.Struct
    ids: dict[str, UUID]
    idempotency_key: str | None
    if_match: str | None


async def answer_command(asked: Asked) -> Response[CommandOutcome]:
    """Run the request's command: on PostgreSQL first in the event loop, decided on the cache and appended with
    the other commands of the moment (ADR 0017); whenever that needs the store, as always, in a worker thread."""
    runtime: Runtime = asked.request.app.state.runtime
    built = None
    # a command naming an organisation is built with a read of its project (`build_command`): not in the loop
    if runtime.group is not None and "organisation_id" not in asked.route.command.__struct_fields__:
        built = command_of(asked)
        command, created, within = built
        result = await runtime.service.execute_cached(command, within=within, group=runtime.group)
        if result is not None:
            return answer(runtime, asked, result, created)
    return await sync_to_thread(run_command, asked, built)


def run_command(asked: Asked, built: Built | None = None) -> Response[CommandOutcome]:
    """`execute` in a worker thread, for the command already built for the event loop's attempt if there was one."""
    runtime: Runtime = asked.request.app.state.runtime
    command, created, within = built or command_of(asked)
    result = runtime.service.execute(command, within=within)
    if result.replayed and result.position is None:
        # SEC-09 returns the original outcome; its position is not kept, and the head is at or after it, so
        # reads waiting for the head still reflect the original write (RM-08).
        result = msgspec.structs.replace(result, position=runtime.head())
    return answer(runtime, asked, result, created)


def command_of(asked: Asked) -> Built:
    """The request's command (see `build_command`) with the request's facts (AUD-01) and server-made ids."""
    request, key = asked.request, asked.idempotency_key
    principal = request.user
    # SEC-09: keys are scoped per project (or organisation)
    scope = asked.ids.get("project_id") or principal.org
    context = c.CommandContext(
        correlation_id=correlation_id(request),
        idempotency_key=key,
        client_app=request.headers.get("user-agent", "")[:200] or None,
        device_id=request.headers.get("x-device-id"),
    )
    versioned = issubclass(asked.route.command, c.PermitCommand)
    return build_command(
        request.app.state.runtime,
        principal,
        asked.route,
        asked.data,
        asked.ids,
        make_id=lambda name: new_id(f"{scope}:{principal.sub}", key, name),
        context=context,
        expected=expected_version(asked.if_match) if versioned else None,
    )


def answer(
    runtime: Runtime, asked: Asked, result: CommandResult, created: dict[str, UUID]
) -> Response[CommandOutcome]:
    """The command's outcome, with its position for the caller's next reads (RM-08) and the version (SEC-10)."""
    route = asked.route
    runtime.remember(asked.request.user.sub, result.position)
    headers = {}
    if result.position is not None:
        headers["X-PTW-Position"] = str(result.position)
    if result.version is not None and issubclass(route.command, c.PermitCommand | c.CreatePermit):
        headers["ETag"] = f'"{result.version}"'
    # SEC-09: a replay answers as the original did, 201 for a create included.
    return Response(
        CommandOutcome.of(result, created), status_code=201 if route.created else 200, headers=headers
    )


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        min_length=1,  # the command context refuses an empty key (SEC-09)
        max_length=200,
        description="Replaying the same request with the same key returns the original outcome (SEC-09).",
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='The version the change is based on, e.g. "7"; a different current version answers 412 '
        "(SEC-10).",
    ),
]


_AT = re.compile(r"at `\$\.([^`]+)`")


@cache
def strict_decoder(kind: type[msgspec.Struct]) -> msgspec.json.Decoder[msgspec.Struct]:
    """One decoder per body type, made when its route is made: msgspec builds a type's decoding tables on first
    use, and first uses in several request threads at once is where an API worker crashed inside msgspec under
    load (ADR 0016)."""
    return msgspec.json.Decoder(kind)


def strictly(kind: type[msgspec.Struct], raw: bytes) -> msgspec.Struct:
    """SEC-12: Litestar converts a body leniently (`"3"` to 3, 12 to an instant in 1970); decode it again,
    strictly, so a wrong type is refused naming its field."""
    try:
        return strict_decoder(kind).decode(raw)
    except msgspec.ValidationError as error:
        found = _AT.search(str(error))
        raise problem(
            "validation_failed",
            422,
            str(error),
            rule_ids=("SEC-12",),
            fields=(found.group(1),) if found else (),
        ) from None


def command_handler(route: CommandRoute) -> HTTPRouteHandler:
    """A POST handler for one route, with a signature Litestar reads for parameters and the OpenAPI schema."""
    in_path = frozenset(route.path_ids) | (frozenset() if route.organisation else {"project_id"})
    body = body_type(route.command, path=in_path, created=frozenset(route.created))
    strict_decoder(body)
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("request", kw, annotation=Request[Principal, Any, Any])]
    if not route.organisation:
        params.append(inspect.Parameter("project_id", kw, annotation=FromPath[UUID]))
    params += [inspect.Parameter(name, kw, annotation=FromPath[UUID]) for name in route.path_ids]
    params += [
        inspect.Parameter("data", kw, annotation=JSONBody[body]),  # type: ignore[misc,valid-type]
        inspect.Parameter("body", kw, annotation=RawBody),  # the raw body, decoded again strictly (SEC-12)
        inspect.Parameter("idempotency_key", kw, annotation=IdempotencyKey, default=None),
    ]
    versioned = issubclass(route.command, c.PermitCommand)  # SEC-10: If-Match names a permit version
    if versioned:
        params.append(inspect.Parameter("if_match", kw, annotation=IfMatch, default=None))

    async def handler(**kwargs: Any) -> Response[CommandOutcome]:
        request = kwargs.pop("request")
        kwargs.pop("data")
        data = strictly(body, kwargs.pop("body"))
        idempotency_key = kwargs.pop("idempotency_key")
        if versioned:
            if_match = kwargs.pop("if_match")
        elif "if-match" in request.headers:
            raise problem(
                "validation_failed",
                422,
                f"If-Match names a permit version; {route.command.__name__} does not act on a permit",
                rule_ids=("SEC-10",),
                fields=("If-Match",),
            )
        else:
            if_match = None
        return await answer_command(Asked(request, route, data, kwargs, idempotency_key, if_match))

    handler.__signature__ = inspect.Signature(params, return_annotation=Response[CommandOutcome])  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in params} | {"return": Response[CommandOutcome]}
    handler.__name__ = handler.__qualname__ = _snake(route.command.__name__)
    handler.__doc__ = route.summary
    base = "/organisation" if route.organisation else "/projects/{project_id:uuid}"
    return GuardedRoute(
        base + route.path,
        http_method=HttpMethod.POST,
        operation_id=_camel(route.command.__name__),
        summary=route.command.__name__,
        description=route.summary,
        tags=[route.tag],
        status_code=201 if route.created else 200,
        responses=PROBLEM_RESPONSES,
        opt={"rate": "write"},
    )(handler)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


def command_handlers() -> list[HTTPRouteHandler]:
    return [command_handler(route) for route in ROUTES]
