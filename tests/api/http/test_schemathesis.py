"""Schemathesis against the API's own OpenAPI document (issue 5): for every operation, generated requests — valid
and deliberately invalid — never meet a server error, and every response is one the document promises (status
code, content type, headers, body schema; SEC-07 problems for refusals, SEC-12 for invalid input).

One app serves the whole module over SQLite, with a project of permits in several states. Requests carry a real
bearer token (SEC-01) and most name the real project and its real permits, workers, isolation points and
isolations, so they reach the handlers and the domain rather than stopping at TEN-02's not_found. The run is
bounded and derandomised, so CI sees the same cases every time.

Project settings are fuzzed last and on their own: a settings change the domain accepts but cannot live with
does not fail at once, it breaks what comes after (a projection, the next permit), so each accepted change is
followed by a check that the site still works.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from litestar.serialization import encode_json
from litestar.testing import TestClient
from litestar.types import Receive, Send
from schemathesis import GenerationMode

from ptw_api.http.app import create_app
from ptw_api.http.auth import ProjectGrant, mint_token
from ptw_api.http.settings import ApiSettings
from ptw_domain.clock import ManualClock
from ptw_domain.roles import CompanyKind, Role
from ptw_projections.errors import NotCaughtUp
from ptw_projections.registry import PROJECTIONS
from tests.api.http.conftest import SECRET, grant_of
from tests.builders import START, World

BASE_URL = "http://testserver"  # the ASGI transport's host; nothing listens on a socket
# Cases per operation (valid and invalid together), for ~85 operations: the requestor's slice mostly meets
# authorisation, so it needs fewer. The module stays within ~90 s on two cores.
EXAMPLES = 6
REQUESTOR_EXAMPLES = 4
ACCEPTED = ["2xx", "401", "403", "404", "409", "412", "422", "429"]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261125,
        "generation": {"mode": "all", "deterministic": True, "database": "none"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        # A schema-valid request may still break a rule: a guard or lifecycle rule (409), a stale If-Match
        # (412), or a domain rule on a value's meaning (422, e.g. TPL-01 on a template definition). Refusals
        # by the decoder itself are caught by `decodes_as_documented` below.
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        # The readiness probe's documented answer to "not ready" (a projection behind by more than `max_lag`,
        # which the fuzzer may set to 0) is 503.
        "operations": [
            {
                "include-operation-id": "readinessProbe",
                "checks": {
                    "not_a_server_error": {"expected-statuses": ["2xx", "4xx", "503"]},
                    "positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "503"]},
                },
            }
        ],
    }
)
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
REQUESTOR = hypothesis.settings(SETTINGS, max_examples=REQUESTOR_EXAMPLES)
# Settings changes leave state behind, so a failing example is reported as found: shrinking would replay
# cases against a site the failure already broke.
NO_SHRINK = hypothesis.settings(SETTINGS, phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
SETTINGS_OPERATIONS = ["changeProjectSettings", "openProject"]

# One app for the module. Building it opens nothing: the `site` fixture makes this directory and runs the app's
# lifespan, which opens the SQLite database in it and starts the projection followers.
WORKDIR = Path(tempfile.gettempdir()) / f"ptw-schemathesis-{uuid.uuid4().hex}"
API_SETTINGS = ApiSettings(
    database_url=f"sqlite:///{WORKDIR / 'ptw.db'}",
    jwt_secret=SECRET,
    rate_limits_enabled=False,
    openapi_ui=False,
    read_wait_seconds=30,  # RM-08: a 503 here would be the projections stalling, not a slow machine
)
CLOCK = ManualClock(START)
APP = create_app(API_SETTINGS, clock=CLOCK)
# The ids of the site, filled by the `site` fixture; the path parameter hook below draws from them.
KNOWN_IDS: dict[str, list[str]] = {}


async def served_app(scope: Any, receive: Receive, send: Send) -> None:
    """The app as schemathesis reaches it: requests pass through, the lifespan is the `site` fixture's.
    (Schemathesis' pytest plugin ends every ASGI lifespan it started after each test; restarting ours would
    mean a new runtime per operation.)"""
    if scope["type"] != "lifespan":
        await APP(scope, receive, send)


# The document the app serves at /schema/openapi.json (the first test checks that it is the same one).
schema = schemathesis.openapi.from_dict(
    json.loads(encode_json(APP.openapi_schema.to_schema())), config=CONFIG
)
schema.app = served_app  # requests, and the probes some checks send, go to the app in-process (ASGI)


@schema.hook
def flatmap_path_parameters(_context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """A well-formed generated id is mostly replaced by a real one (the project three times in four, else one of
    the site's objects or the generated id), so that requests get past not_found (TEN-02) to the handlers and
    the domain; malformed ids, from negative cases, are left as generated."""
    if not path_parameters:
        return st.just(path_parameters)
    choices: dict[str, Any] = {}
    for name, value in path_parameters.items():
        known = KNOWN_IDS.get(name, [])
        if known and _is_uuid(value):
            weight = 3 if name == "project_id" else 1
            choices[name] = st.sampled_from([*known * weight, value])
        else:
            choices[name] = st.just(value)
    return st.fixed_dictionaries(choices)


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@dataclass
class Site:
    """The serving app's client, the world it holds, the document it serves and a bearer token per caller."""

    client: TestClient[Any]
    world: World
    served: Any
    headers: dict[str, dict[str, str]]

    def token(self, projects: dict[uuid.UUID, ProjectGrant], *, org_admin: bool = False) -> dict[str, str]:
        token = mint_token(
            API_SETTINGS,
            subject="fuzzer",
            name="Fuzzer",
            projects=projects,
            organisation=self.world.organisation_id,
            org_admin=org_admin,
        )
        return {"Authorization": f"Bearer {token}"}


def _demo_data(world: World) -> dict[str, list[str]]:
    """Permits along the lifecycle, an isolation point assigned to one, and the registered workers."""
    point = world.register_point("V-FUZZ-1")
    draft = world.draft()
    submitted = world.submitted()
    under_review = world.under_review()
    approved = world.approved()
    world.assign_point(approved, "V-FUZZ-1")
    active = world.active()
    closed = world.closed()
    permits = [draft, submitted, under_review, approved, active, closed]
    isolations = [a.isolation_id for p in permits for a in world.permit(p).isolations.assignments]
    return {
        "project_id": [str(world.project_id)],
        "permit_id": [str(p) for p in permits],
        "worker_id": [str(w) for w in world.workers.values()],
        "point_id": [str(point)],
        "isolation_id": [str(i) for i in isolations],
    }


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The app serving a project with demo data, for the whole module."""
    WORKDIR.mkdir()
    try:
        with TestClient(APP) as client:
            runtime = APP.state.runtime
            world = World.create(runtime.service, CLOCK)
            KNOWN_IDS.update(_demo_data(world))
            runtime.reads.wait_for(runtime.head(), list(PROJECTIONS), timeout=30)
            served = schemathesis.openapi.from_asgi("/schema/openapi.json", served_app, config=CONFIG)
            site = Site(client=client, world=world, served=served, headers={})
            every_role = ProjectGrant(
                roles=frozenset(Role), authority_level=3, company_kind=CompanyKind.OWNER
            )
            site.headers = {
                # a member holding every role and an organisation admin: authorisation refuses as little as it can
                "every_role": site.token({world.project_id: every_role}, org_admin=True),
                "requestor": site.token({world.project_id: grant_of(world.people["req"])}),
            }
            yield site
    finally:
        KNOWN_IDS.clear()
        shutil.rmtree(WORKDIR, ignore_errors=True)


def decodes_as_documented(_ctx: Any, response: Any, case: Any) -> bool | None:
    """SEC-12 both ways: a command body the document calls valid is never refused by the decoder. A refusal
    naming only SEC-12 (no domain rule) means the document allows what the server cannot read. (Query
    parameters are parsed by hand, with rules such as "exactly one of `version` and `at`" that OpenAPI cannot
    state, so only bodies are held to this.)"""
    positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if not positive or case.method != "POST" or response.status_code not in (400, 422):
        return None
    body = response.json()
    # JSON Schema counts 7.0 as an integer; msgspec, rightly strict, does not: not a gap in the document.
    integral_float = re.search(r"Expected `int[^`]*`, got `float`", body.get("detail", ""))
    if body.get("rule_ids") in ([], ["SEC-12"]) and not integral_float:
        raise AssertionError(f"a schema-valid body was refused as unreadable: {body.get('detail')}")
    return True


def _call(case: Any, headers: dict[str, str]) -> Any:
    return case.call_and_validate(
        headers=headers, base_url=BASE_URL, additional_checks=[decodes_as_documented]
    )


def test_the_served_document_is_valid_openapi_3_1_and_the_one_tested(site: Site) -> None:
    """Issue 5, SEC-07: /schema/openapi.json loads as OpenAPI 3.1, validates against its meta-schema, and is
    the document the cases below are generated from."""
    assert site.served.raw_schema["openapi"].startswith("3.1.")
    site.served.validate()
    assert site.served.raw_schema == schema.raw_schema
    assert len(site.served) >= 80


def test_the_document_states_what_the_server_enforces() -> None:
    """SEC-12, SEC-01: the places where Litestar's generated document said less (or other) than the server
    enforces, each of which schemathesis turned into failures: closed bodies, variadic and fixed-length tuples,
    enum-keyed maps, header limits, the bearer scheme, and the open health probes."""
    doc = schema.raw_schema
    components = doc["components"]["schemas"]
    assert components["CreatePermitRequest"]["additionalProperties"] is False
    content = components["PermitContent"]["properties"]
    assert content["hazards"]["items"] == {"type": "string"}  # not oneOf [string, {}]
    assert content["gps"]["oneOf"][0] | {"minItems": 2, "maxItems": 2} == content["gps"]["oneOf"][0]
    assert set(components["RolePolicy"]["properties"]["steps"]["propertyNames"]["enum"]) >= {
        "verify",
        "approve",
    }
    assert "name" not in doc["components"]["securitySchemes"]["BearerToken"]

    def header(path: str, method: str, name: str) -> Any:
        parameters = doc["paths"][path][method]["parameters"]
        return next(p["schema"] for p in parameters if p["name"] == name)

    approve = "/api/v1/projects/{project_id}/permits/{permit_id}/approve"
    assert header(approve, "post", "Idempotency-Key")["minLength"] == 1
    assert header("/api/v1/projects/{project_id}/board", "get", "X-PTW-Min-Position")["minimum"] == 0
    ready = doc["paths"]["/health/ready"]["get"]
    assert ready["security"] == [{}]
    assert {"422", "503"} <= set(ready["responses"])
    board = doc["paths"]["/api/v1/projects/{project_id}/board"]["get"]["responses"]
    assert set(board["400"]["content"]) == {"application/problem+json"}


fuzzed = schema.exclude(operation_id=SETTINGS_OPERATIONS)


@SETTINGS
@fuzzed.parametrize()
def test_a_member_with_every_role_meets_no_5xx_and_only_documented_responses(case: Any, site: Site) -> None:
    """SEC-07, SEC-12: generated valid and invalid requests by a member holding every role."""
    _call(case, site.headers["every_role"])


@REQUESTOR
@fuzzed.parametrize()
def test_a_plain_requestor_meets_no_5xx_and_only_documented_responses(case: Any, site: Site) -> None:
    """SEC-04, SEC-07, SEC-12: the same with a contractor's requestor, refused by roles and parties."""
    _call(case, site.headers["requestor"])


# (`include` would be OR-ed with the include filter schemathesis adds from its configuration, so: exclude the rest)
settings_only = schema.exclude(
    operation_id=[
        operation["operationId"]
        for item in schema.raw_schema["paths"].values()
        for operation in item.values()
        if operation["operationId"] not in SETTINGS_OPERATIONS
    ]
)


@NO_SHRINK
@settings_only.parametrize()
def test_project_settings_the_domain_accepts_leave_the_site_working(case: Any, site: Site) -> None:
    """TEN-06, SEC-12: a project opened or its settings changed with any value the domain accepts still takes
    permits (NUM-01 numbering, HOV-01 shift boundaries) and keeps the read models running (RM-08)."""
    response = _call(case, site.headers["every_role"])
    if response.status_code >= 300:
        return
    project_id = response.json()["created"].get("project_id") or str(site.world.project_id)
    requestor = site.token({uuid.UUID(project_id): grant_of(site.world.people["req"])})
    created = site.client.post(
        f"/api/v1/projects/{project_id}/permits", json=_permit_body(site.world), headers=requestor
    )
    assert created.status_code < 500, f"after {case.body!r}, creating a permit: {created.text}"
    runtime = APP.state.runtime
    try:
        runtime.reads.wait_for(runtime.head(), list(PROJECTIONS), timeout=30)
    except NotCaughtUp:
        ready = site.client.get("/health/ready", params={"max_lag": 0}).text
        pytest.fail(f"after {case.body!r}, the read models stopped: {ready}")
    restored = site.client.post(
        f"/api/v1/projects/{site.world.project_id}/settings",
        json={"settings": {}},
        headers=site.headers["every_role"],
    )
    assert restored.status_code == 200, restored.text


def _permit_body(world: World) -> dict[str, Any]:
    start = world.clock.now() + timedelta(hours=1)
    return {
        "template_key": "cold-work",
        "content": {
            "description": "Replace a gasket",
            "area": "A1",
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=6)).isoformat(),
            "probability": 2,
            "severity": 2,
        },
    }
