# ruff: noqa: N802
"""Tenancy over HTTP (TEN-02, TEN-03, SEC-03): another project's objects answer exactly like missing ones.

The matrix runs over every endpoint the API serves — `ROUTES`, `query_handlers()` and `sync_handlers()`, checked
against the OpenAPI document — so an endpoint added later is tested without editing this file. For each id a path names it calls the
endpoint inside the caller's own project with (a) that kind of object from another project and (b) a random id,
and requires the two answers to be the same 404 `not_found` problem. Project B shares the caller's organisation;
project C belongs to another one (workers are organisation objects, so only C's are foreign).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from litestar.handlers import HTTPRouteHandler

from ptw_api.http.command_routes import ROUTES, CommandRoute
from ptw_api.http.query_routes import query_handlers
from ptw_api.http.sync_routes import sync_handlers
from ptw_domain import commands as c
from ptw_domain.gas import commands as gc
from ptw_domain.isolation import commands as ic
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.content import PermitContent
from ptw_domain.permit.readiness import Action
from tests.api.http.matrix import (
    Env,
    assert_same_not_found,
    open_env,
    sample_body,
)
from tests.builders import World

PATH_ID = re.compile(r"\{([a-z_]+):uuid\}")
READS: list[HTTPRouteHandler] = [*query_handlers(), *sync_handlers()]
# The query parameters an endpoint needs before it looks its object up.
QUERY_PARAMS: dict[str, dict[str, Any]] = {"getPermitAt": {"version": 1}}


@dataclass
class Foreign:
    """Objects of one other project, one of each kind a path can name."""

    world: World
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    number: str = ""


@dataclass
class Tenancy:
    env: Env
    same_org: Foreign
    other_org: Foreign
    own_permit: uuid.UUID


def _furnish(world: World, *, workers: bool) -> Foreign:
    """A permit with an isolation, a point, a SIMOPS conflict and a delegation in `world`'s project."""
    foreign = Foreign(world=world)
    permit = world.under_review(area="F1", equipment_tags=("F-1",))
    point = world.assign_point(permit)
    first = world.submitted(template="cold-work", area="F2", equipment_tags=("F-2",))
    second = world.submitted(template="cold-work", area="F2", equipment_tags=("F-2",))
    conflicts = [
        w.facts["conflict_id"]
        for w in world.service.readiness(second).actions[Action.APPROVE].warnings
        if w.rule == "SIM-06"
    ]
    assert conflicts, "two overlapping cold-work permits make a low SIMOPS notice (SIM-05)"
    delegation = uuid.uuid4()
    world.run(
        c.GrantDelegation(
            actor=world.actor("app"),
            delegation_id=delegation,
            project_id=world.project_id,
            delegate=world.people["app2"],
            role="approver",
            valid_until=world.clock.now() + timedelta(days=1),
        )
    )
    foreign.ids = {
        "permit_id": permit,
        "point_id": point,
        "isolation_id": world.permit(permit).isolations.assignments[0].isolation_id,
        "conflict_id": uuid.UUID(str(conflicts[0])),
        "delegation_id": delegation,
        "project_id": world.project_id,
    }
    if workers:
        foreign.ids["worker_id"] = world.workers["crew1"]
    foreign.number = world.permit(permit).number or ""
    assert first != second
    return foreign


@pytest.fixture(
    scope="module",
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def tenancy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenancy]:
    url = _database_url(request, tmp_path_factory)
    with open_env(url) as env:
        world = env.world
        same_org = _furnish(world.sibling("EAST"), workers=False)
        other_org = _furnish(World.create(world.service, world.clock, code="SOUTH"), workers=True)
        own = world.draft(area="A9", equipment_tags=("A-9",))
        yield Tenancy(env=env, same_org=same_org, other_org=other_org, own_permit=own)


def _database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('tenancy') / 'ptw.db'}"
    return str(request.getfixturevalue("tenancy_postgres_url"))


@pytest.fixture(scope="module")
def tenancy_postgres_url(postgres_dsn: str) -> Iterator[str]:
    import psycopg

    schema = f"ptw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_dsn}?schema={schema}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')


# --- the endpoints ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API: how to call it with chosen path ids."""

    operation_id: str
    method: str
    path: str  # below /api/v1, with {name:uuid} placeholders
    route: CommandRoute | None = None  # a command's endpoint; other POSTs take `body`
    body: dict[str, Any] | None = None

    @property
    def path_ids(self) -> list[str]:
        return [name for name in PATH_ID.findall(self.path) if name != "project_id"]

    @property
    def in_project(self) -> bool:
        return "{project_id:uuid}" in self.path

    def call(self, env: Env, token: str, ids: dict[str, Any]) -> Any:
        url = "/api/v1" + PATH_ID.sub(lambda m: str(ids[m.group(1)]), self.path)
        headers = {"Authorization": f"Bearer {token}", "X-PTW-Min-Position": str(env.head())}
        if self.method == "GET":
            return env.client.get(url, params=QUERY_PARAMS.get(self.operation_id), headers=headers)
        body = self.body if self.route is None else sample_body(self.route, env.clock.now())
        return env.client.post(url, json=body, headers=headers)


def _endpoints() -> list[Endpoint]:
    found = []
    for route in ROUTES:
        base = "/organisation" if route.organisation else "/projects/{project_id:uuid}"
        found.append(Endpoint(_camel(route.command.__name__), "POST", base + route.path, route))
    for handler in READS:
        (path,) = handler.paths
        (method,) = handler.http_methods
        assert handler.operation_id is not None
        body = _SYNC_BATCH if method == "POST" else None
        found.append(Endpoint(str(handler.operation_id), method, path, body=body))
    return found


# SYNC-01: an empty batch is enough to reach the project check.
_SYNC_BATCH = {
    "device_id": "tablet-7",
    "batch_id": "b-1",
    "sent_at": "2026-11-25T08:00:00+00:00",
    "commands": [],
}


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


ENDPOINTS = _endpoints()
WITH_IDS = [(e, name) for e in ENDPOINTS for name in e.path_ids]
IN_PROJECT = [e for e in ENDPOINTS if e.in_project]


def test_TEN_02_the_matrix_covers_every_operation_of_the_openapi_document(tenancy: Tenancy) -> None:
    """TEN-02: the endpoints iterated here are exactly the operations the OpenAPI document lists under /api/v1."""
    document = tenancy.env.client.get("/schema/openapi.json").json()
    listed = {
        (
            method.upper(),
            re.sub(r"\{([a-z_]+)\}", r"{\1:uuid}", path.removeprefix("/api/v1")),
            op["operationId"],
        )
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    }
    assert listed == {(e.method, e.path, e.operation_id) for e in ENDPOINTS}
    assert {name for _, name in WITH_IDS} == {
        "permit_id",
        "delegation_id",
        "worker_id",
        "point_id",
        "isolation_id",
        "conflict_id",
    }, "a new kind of path id needs a foreign object in _furnish"


@pytest.mark.parametrize("org", ["same_org", "other_org"])
@pytest.mark.parametrize(
    ("endpoint", "id_name"), WITH_IDS, ids=[f"{e.operation_id}-{name}" for e, name in WITH_IDS]
)
def test_TEN_02_a_foreign_id_in_the_path_reads_as_a_missing_one(
    tenancy: Tenancy, endpoint: Endpoint, id_name: str, org: str
) -> None:
    """TEN-02/SEC-03: the path names an object of another project (same or other organisation) inside the
    caller's project: 404 not_found, identical to a random id; nothing is recorded."""
    env = tenancy.env
    foreign: Foreign = getattr(tenancy, org)
    if id_name not in foreign.ids:
        pytest.skip(f"{id_name}: objects of the organisation are shared by its projects (TEN-01)")
    token = env.token("admin", org_admin=True)
    own = {"project_id": env.world.project_id} | {name: uuid.uuid4() for name in endpoint.path_ids}
    head = env.head()
    answers = [
        endpoint.call(env, token, own | {id_name: foreign.ids[id_name]}),
        endpoint.call(env, token, own | {id_name: uuid.uuid4()}),
    ]
    assert env.head() == head
    body = assert_same_not_found(*answers, foreign.world.project_id, foreign.number)
    assert body.get("fields", []) in ([], [id_name]), body


@pytest.mark.parametrize("org", ["same_org", "other_org"])
@pytest.mark.parametrize("endpoint", IN_PROJECT, ids=[e.operation_id for e in IN_PROJECT])
def test_SEC_03_a_project_missing_from_the_token_reads_as_one_that_does_not_exist(
    tenancy: Tenancy, endpoint: Endpoint, org: str
) -> None:
    """SEC-03/TEN-02: a project that exists but is not in the caller's token answers like a random project id,
    for every endpoint; the caller's membership elsewhere does not help and nothing is recorded."""
    env = tenancy.env
    foreign: Foreign = getattr(tenancy, org)
    token = env.token("admin", org_admin=True)  # member of the world's project only
    ids = {name: foreign.ids.get(name, uuid.uuid4()) for name in endpoint.path_ids}
    head = env.head()
    answers = [
        endpoint.call(env, token, ids | {"project_id": foreign.world.project_id}),
        endpoint.call(env, token, ids | {"project_id": uuid.uuid4()}),
    ]
    assert env.head() == head
    body = assert_same_not_found(*answers, foreign.number)
    assert body.get("fields", []) == []


# --- ids inside payloads and query parameters (TEN-03) ------------------------------------------------------


def _refused_alike(
    env: Env, token: str, make: Any, foreign_id: uuid.UUID, field: str, *, pid: uuid.UUID | None = None
) -> dict[str, Any]:
    """Send the command made with the foreign id and with a random one: the same not_found naming `field`,
    and nothing written (store head and the permit's version unchanged)."""
    head = env.head()
    version = env.world.permit(pid).version if pid else None
    foreign = env.send(token, make(foreign_id))
    missing = env.send(token, make(uuid.uuid4()))
    assert env.head() == head
    if pid is not None:
        assert env.world.permit(pid).version == version
    body = assert_same_not_found(foreign, missing)
    assert body["fields"] == [field], body
    return body


def test_TEN_03_a_worker_of_another_organisation_cannot_be_assigned(tenancy: Tenancy) -> None:
    """TEN-03: AssignWorker naming another organisation's worker is refused not_found naming `worker_id`."""
    env, world, pid = tenancy.env, tenancy.env.world, tenancy.own_permit
    _refused_alike(
        env,
        env.token("req"),
        lambda wid: pc.AssignWorker(
            actor=world.actor("req"), permit_id=pid, worker_id=wid, permit_roles=(PermitRole.CREW,)
        ),
        tenancy.other_org.ids["worker_id"],
        "worker_id",
        pid=pid,
    )


def test_TEN_01_a_worker_of_the_same_organisation_is_assignable_from_any_of_its_projects(
    tenancy: Tenancy,
) -> None:
    """TEN-01: the worker registry belongs to the organisation, so its worker is no foreign object."""
    env, world = tenancy.env, tenancy.env.world
    pid = world.draft(area="A8", equipment_tags=("A-8",))
    answer = env.send(
        env.token("req"),
        pc.AssignWorker(
            actor=world.actor("req"),
            permit_id=pid,
            worker_id=world.workers["watch"],
            permit_roles=(PermitRole.CREW,),
        ),
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("org", ["same_org", "other_org"])
def test_TEN_03_an_isolation_point_of_another_project_cannot_be_assigned(tenancy: Tenancy, org: str) -> None:
    """TEN-03: AssignIsolationPoint naming a point of another project is refused naming `point_id`."""
    env, world, pid = tenancy.env, tenancy.env.world, tenancy.own_permit
    _refused_alike(
        env,
        env.token("iso"),
        lambda point: ic.AssignIsolationPoint(actor=world.actor("iso"), permit_id=pid, point_id=point),
        getattr(tenancy, org).ids["point_id"],
        "point_id",
        pid=pid,
    )


@pytest.mark.parametrize("org", ["same_org", "other_org"])
def test_TEN_03_a_related_permit_of_another_project_is_refused_on_create(tenancy: Tenancy, org: str) -> None:
    """TEN-03: a draft relating to another project's permit is refused naming the payload field."""
    env, world = tenancy.env, tenancy.env.world

    def create(related: uuid.UUID) -> c.CreatePermit:
        content: PermitContent = world.content(area="A7", related_permits=(related,))
        return c.CreatePermit(
            actor=world.actor("req"),
            permit_id=uuid.uuid4(),
            project_id=world.project_id,
            template_key="hot-work",
            content=content,
        )

    head = env.head()
    token = env.token("req")
    foreign = env.send(token, create(getattr(tenancy, org).ids["permit_id"]))
    missing = env.send(token, create(uuid.uuid4()))
    assert env.head() == head
    body = assert_same_not_found(foreign, missing, getattr(tenancy, org).number)
    assert body["fields"] and "related_permits" in body["fields"][0], body


@pytest.mark.parametrize("org", ["same_org", "other_org"])
def test_TEN_03_a_related_permit_of_another_project_is_refused_on_edit(tenancy: Tenancy, org: str) -> None:
    """TEN-03: editing a draft to relate it to another project's permit is refused; the draft is unchanged."""
    env, world, pid = tenancy.env, tenancy.env.world, tenancy.own_permit

    def edit(related: uuid.UUID) -> c.EditPermit:
        return c.EditPermit(
            actor=world.actor("req"), permit_id=pid, changes=c.PermitChanges(related_permits=(related,))
        )

    head, version = env.head(), world.permit(pid).version
    token = env.token("req")
    foreign = env.send(token, edit(getattr(tenancy, org).ids["permit_id"]))
    missing = env.send(token, edit(uuid.uuid4()))
    assert (env.head(), world.permit(pid).version) == (head, version)
    body = assert_same_not_found(foreign, missing)
    assert body["fields"] and "related_permits" in body["fields"][0], body


def test_TEN_03_a_gas_tester_of_another_organisation_cannot_be_named(tenancy: Tenancy) -> None:
    """TEN-03: a reading naming another organisation's worker as tester is refused naming `tester_worker_id`."""
    env, world = tenancy.env, tenancy.env.world
    pid = world.under_review(area="A6", equipment_tags=("A-6",))

    def reading(worker: uuid.UUID) -> gc.RecordGasReading:
        return gc.RecordGasReading(
            actor=world.actor("tester"),
            permit_id=pid,
            reading_id=uuid.uuid4(),
            session_id=uuid.uuid4(),
            gas="O2",
            value=20.9,
            unit="%vol",
            tested_at=world.clock.now(),
            instrument="MX4-0042",
            calibration_due=world.clock.now() + timedelta(days=30),
            tester_worker_id=worker,
        )

    _refused_alike(
        env,
        env.token("tester"),
        reading,
        tenancy.other_org.ids["worker_id"],
        "tester_worker_id",
        pid=pid,
    )


@pytest.mark.parametrize("org", ["same_org", "other_org"])
def test_TEN_03_a_delegation_for_another_projects_permit_is_refused(tenancy: Tenancy, org: str) -> None:
    """TEN-03: a delegation naming a permit of another project is refused naming `permit_id`."""
    env, world = tenancy.env, tenancy.env.world
    _refused_alike(
        env,
        env.token("app"),
        lambda permit: c.GrantDelegation(
            actor=world.actor("app"),
            delegation_id=uuid.uuid4(),
            project_id=world.project_id,
            delegate=world.people["app2"],
            role="approver",
            permit_id=permit,
            valid_until=world.clock.now() + timedelta(days=1),
        ),
        getattr(tenancy, org).ids["permit_id"],
        "permit_id",
    )


@pytest.mark.parametrize("org", ["same_org", "other_org"])
def test_TEN_02_a_foreign_permit_as_a_query_parameter_reads_as_a_missing_one(
    tenancy: Tenancy, org: str
) -> None:
    """TEN-02: chain verification of another project's permit answers like an unknown permit; the registers
    filtered by it are as empty as for an unknown one."""
    env = tenancy.env
    foreign_permit = getattr(tenancy, org).ids["permit_id"]
    token = env.token("admin")
    answers = [env.get(token, "/audit/verification", {"permit": p}) for p in (foreign_permit, uuid.uuid4())]
    body = assert_same_not_found(*answers)
    assert body.get("fields", []) in ([], ["permit"])
    for register in ("/registers/isolations", "/registers/locks", "/registers/conflicts"):
        pages = [env.get(token, register, {"permit": p}) for p in (foreign_permit, uuid.uuid4())]
        assert [p.status_code for p in pages] == [200, 200], [p.text for p in pages]
        items = [p.json()["items"] for p in pages]
        assert items == [[], []], items


def test_TEN_02_another_organisations_template_cannot_be_retired(tenancy: Tenancy) -> None:
    """TEN-01/TEN-02: organisation settings act in the token's organisation only: retiring a template key that
    exists only in another organisation answers like an unknown key."""
    env = tenancy.env
    other = tenancy.other_org.world
    other.publish_template({"key": "south-only", "category": "cold_work", "name": "South only"})
    token = env.token("admin", org_admin=True)
    head = env.head()
    answers = [
        env.send(
            token,
            c.RetireTemplate(actor=env.world.actor("admin"), organisation_id=other.organisation_id, key=k),
        )
        for k in ("south-only", "no-such-template")
    ]
    assert env.head() == head
    assert_same_not_found(*answers, other.organisation_id)


@pytest.mark.parametrize("org", ["same_org", "other_org"])
def test_SYNC_09_a_foreign_target_in_an_offline_batch_reads_as_a_missing_one(
    tenancy: Tenancy, org: str
) -> None:
    """SYNC-09/TEN-02: an offline command on another project's permit is rejected exactly like one on an unknown
    permit — same outcome, reason and detail, no foreign facts — and records nothing on the foreign permit."""
    env = tenancy.env
    foreign = getattr(tenancy, org)
    pid = foreign.ids["permit_id"]
    version = foreign.world.permit(pid).version
    now = env.clock.now().isoformat()
    commands = [
        {
            "client_command_id": f"cmd-{org}-{n}",
            "command": "CancelPermit",
            "target": str(target),
            "device_time": now,
            "payload": {"reason": "no longer needed"},
        }
        for n, target in enumerate((pid, uuid.uuid4()))
    ]
    batch = {"device_id": "tablet-9", "batch_id": f"b-{org}", "sent_at": now, "commands": commands}
    answer = env.client.post(
        f"/api/v1/projects/{env.world.project_id}/sync",
        json=batch,
        headers=env.headers(env.token("req")),
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    varying = {"client_command_id", "target", "permit_id"}
    told = [{k: v for k, v in r.items() if k not in varying} for r in results]
    assert told[0] == told[1], told
    assert told[0]["outcome"] == "rejected" and told[0]["reason"] == "not_found", told[0]
    assert foreign.number not in answer.text and str(foreign.world.project_id) not in answer.text
    assert foreign.world.permit(pid).version == version
