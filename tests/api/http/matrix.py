"""Helpers for the HTTP matrix tests (tenancy, permissions, bad input).

* `open_env(url)` serves the real app over one database with a `World` in it, for a whole test module: the
  matrices make hundreds of calls, so they share one app and give every case objects of its own.
* `send(...)` puts a domain command on the wire: its body is the command's own payload minus what the server
  supplies (wire.SERVER_FIELDS) and the ids the route's path names, so a test builds commands with the builders
  of tests/builders.py and sends them as the person whose token it uses.
* `sample_body(route)` makes a body that decodes for any route from its request type alone, so that a matrix over
  `ROUTES` reaches the domain for every endpoint, a new one included.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import msgspec.inspect as mi
from litestar.testing import TestClient

from ptw_api.http.app import create_app
from ptw_api.http.auth import ProjectGrant, mint_token
from ptw_api.http.command_routes import ROUTES, CommandRoute
from ptw_api.http.settings import ApiSettings
from ptw_api.http.wire import SERVER_FIELDS, body_type
from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.records.commands import MEDIA_TYPE_PATTERN, URI_PATTERN
from ptw_domain.roles import Member, Role
from tests.api.http.conftest import SECRET, grant_of
from tests.builders import START, World

ROUTE_OF: dict[type[c.Command], CommandRoute] = {route.command: route for route in ROUTES}
PROBLEM_TYPE = "application/problem+json"
# Members a problem may vary in between two otherwise identical requests.
VARYING = frozenset({"instance", "correlation_id"})


def settings_for(database_url: str) -> ApiSettings:
    return ApiSettings(
        database_url=database_url,
        jwt_secret=SECRET,
        rate_limits_enabled=False,
        openapi_ui=False,
        read_wait_seconds=10.0,
    )


@dataclass
class Env:
    """One serving app, its database's `World` and a way to mint tokens for anybody."""

    client: TestClient[Any]
    world: World
    settings: ApiSettings

    @property
    def clock(self) -> ManualClock:
        return self.world.clock

    @property
    def runtime(self) -> Any:
        return self.client.app.state.runtime

    def head(self) -> int:
        return int(self.runtime.head())

    def token(
        self,
        who: str,
        *,
        projects: dict[uuid.UUID, ProjectGrant] | None = None,
        organisation: uuid.UUID | None = None,
        org_admin: bool = False,
        roles: frozenset[Role] | None = None,
    ) -> str:
        """A token for the world's person `who`, member of the world's project (or of `projects`); `roles`
        replaces the roles of their membership."""
        if projects is None:
            member = self.world.people[who]
            grant = grant_of(member)
            if roles is not None:
                grant = msgspec.structs.replace(grant, roles=roles)
            projects = {self.world.project_id: grant}
        return mint_token(
            self.settings,
            subject=who,
            name=who.title(),
            projects=projects,
            organisation=organisation or self.world.organisation_id,
            org_admin=org_admin,
        )

    def headers(self, token: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **extra}

    def send(
        self,
        token: str,
        command: c.Command,
        *,
        project_id: uuid.UUID | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """POST `command` to its route as the holder of `token` inside `project_id` (default the world's)."""
        route = ROUTE_OF[type(command)]
        url = command_url(route, vars_of(command), project_id or self.world.project_id)
        payload = wire_body(command) if body is None else body
        return self.client.post(url, json=payload, headers=self.headers(token) | (headers or {}))

    def get(self, token: str, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        """GET below the world's project (`path` starting with /), or an absolute /api path."""
        url = path if path.startswith("/api/") else f"/api/v1/projects/{self.world.project_id}{path}"
        return self.client.get(url, params=params, headers=self.headers(token, **headers))


@contextmanager
def open_env(database_url: str) -> Iterator[Env]:
    settings = settings_for(database_url)
    clock = ManualClock(START)
    with TestClient(create_app(settings, clock=clock)) as client:
        world = World.create(client.app.state.runtime.service, clock)
        yield Env(client=client, world=world, settings=settings)


# --- commands on the wire -------------------------------------------------------------------------------------


def vars_of(command: c.Command) -> dict[str, Any]:
    return {name: getattr(command, name) for name in command.__struct_fields__}


def command_url(route: CommandRoute, values: dict[str, Any], project_id: uuid.UUID) -> str:
    path = re.sub(r"\{([a-z_]+):uuid\}", lambda m: str(values[m.group(1)]), route.path)
    if route.organisation:
        return "/api/v1/organisation" + path
    return f"/api/v1/projects/{values.get('project_id') or project_id}{path}"


def wire_body(command: c.Command) -> dict[str, Any]:
    """The request body of a domain command: its payload without server facts and path ids."""
    route = ROUTE_OF[type(command)]
    dropped = SERVER_FIELDS | set(route.path_ids) | {"project_id"}
    data = msgspec.to_builtins(command)
    assert isinstance(data, dict)
    return {k: v for k, v in data.items() if k not in dropped}


# --- a body for any route, from its request type ---------------------------------------------------------------

_PATTERNS = {
    r"^[A-Z0-9][A-Z0-9_-]*$": "X1",
    r"^[0-9a-f]{64}$": "0" * 64,
    r"^(I|II|III)$": "I",
    URI_PATTERN: "https://docs.example/a.pdf",
    MEDIA_TYPE_PATTERN: "application/pdf",
}


def sample_body(route: CommandRoute, now: datetime = START) -> dict[str, Any]:
    """A body every field of which decodes: required fields only, each at its smallest valid value."""
    in_path = frozenset(route.path_ids) | (frozenset() if route.organisation else {"project_id"})
    kind = body_type(route.command, path=in_path, created=frozenset(route.created))
    value = sample(mi.type_info(kind), now)
    assert isinstance(value, dict)
    return value


def sample(t: mi.Type, now: datetime) -> Any:
    if isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType):
        return {f.encode_name: sample(f.type, now) for f in t.fields if f.required}
    if isinstance(t, mi.StrType):
        if t.pattern is not None:
            if t.pattern not in _PATTERNS:
                raise AssertionError(f"no sample for the pattern {t.pattern!r}; add one to _PATTERNS")
            return _PATTERNS[t.pattern]
        return "x" * max(t.min_length or 1, 1)
    if isinstance(t, mi.BoolType):
        return True
    if isinstance(t, mi.IntType):
        if t.ge is not None:
            return t.ge
        return t.gt + 1 if t.gt is not None else 1
    if isinstance(t, mi.FloatType):
        return float(t.ge) if t.ge is not None else 1.0
    if isinstance(t, mi.DateTimeType):
        return (now + timedelta(hours=1)).astimezone(UTC).isoformat()
    if isinstance(t, mi.DateType):
        return now.date().isoformat()
    if isinstance(t, mi.UUIDType):
        return str(uuid.uuid4())
    if isinstance(t, mi.EnumType):
        return next(iter(t.cls)).value
    if isinstance(t, mi.LiteralType):
        return t.values[0]
    if isinstance(t, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        return [sample(t.item_type, now) for _ in range(t.min_length or 0)]
    if isinstance(t, mi.TupleType):
        return [sample(item, now) for item in t.item_types]
    if isinstance(t, mi.DictType):
        return {}
    if isinstance(t, mi.UnionType):
        options = [o for o in t.types if not isinstance(o, mi.NoneType)]
        return sample(options[0], now) if options else None
    if isinstance(t, mi.AnyType):
        return "x"
    raise AssertionError(f"no sample for {t!r}")


# --- problems -------------------------------------------------------------------------------------------------


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """SEC-07: the status, `application/problem+json`, `type` urn:ptw:problem:<code>, and the correlation id of
    the response header in the body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_TYPE), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:ptw:problem:{code}", body
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert body["correlation_id"] and body["correlation_id"] == response.headers["x-correlation-id"], body
    return body


def assert_same_not_found(foreign: Any, missing: Any, *secrets: object) -> dict[str, Any]:
    """TEN-02: an object of another project reads exactly like one that does not exist — 404 `not_found` with the
    same members (`instance` and `correlation_id` aside) — and the answer names none of the foreign facts."""
    first = assert_problem(foreign, 404, "not_found")
    second = assert_problem(missing, 404, "not_found")
    same = (
        {k: v for k, v in first.items() if k not in VARYING},
        {k: v for k, v in second.items() if k not in VARYING},
    )
    assert same[0] == same[1], same
    for leaked in ("current_status", "current_version", "blockers", "allowed_commands", "facts"):
        assert leaked not in first, first
    told = msgspec.json.encode({k: v for k, v in first.items() if k != "instance"}).decode()
    for secret in secrets:
        assert str(secret) not in told, (secret, told)
    return first


def member_with(person_id: str, *roles: Role, level: int = 3) -> Member:
    from ptw_domain.roles import CompanyKind

    return Member(
        person_id=person_id,
        name=person_id.title(),
        roles=frozenset(roles),
        authority_level=level,
        company_kind=CompanyKind.OWNER,
    )
