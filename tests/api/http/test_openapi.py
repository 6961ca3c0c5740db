# ruff: noqa: N802
"""The OpenAPI document at /schema/openapi.json (issue 5): OpenAPI 3.1, one described and tagged operation per
endpoint, the bearer requirement (SEC-01) everywhere but the probes, problems as application/problem+json
(SEC-07), request bodies without server facts and closed to unknown members (SEC-12), no domain event on the
wire; and the interactive UI at /schema when `openapi_ui` is on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from ptw_api.http.app import create_app
from ptw_api.http.command_routes import ROUTES
from ptw_api.http.settings import ApiSettings
from ptw_api.http.wire import SERVER_FIELDS
from ptw_domain.commands import PermitCommand
from ptw_domain.events.base import EVENT_TYPES
from tests.api.http.conftest import SECRET

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
OPEN = ("/health/",)  # probes answer without a token (load balancers carry none)
FORBIDDEN_IN_BODIES = {"actor", "at", "context", "expected_version"}


def settings(*, openapi_ui: bool) -> ApiSettings:
    return ApiSettings(
        database_url="memory://", jwt_secret=SECRET, rate_limits_enabled=False, openapi_ui=openapi_ui
    )


@pytest.fixture(scope="module")
def ui_client() -> Iterator[TestClient[Any]]:
    """One app for the module: the document does not depend on the store."""
    with TestClient(create_app(settings(openapi_ui=True))) as client:
        yield client


@pytest.fixture(scope="module")
def document(ui_client: TestClient[Any]) -> dict[str, Any]:
    response = ui_client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def by_operation_id(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {op["operationId"]: (path, method, op) for path, method, op in operations(document)}


def test_the_document_is_openapi_3_1_with_the_apis_title_and_version(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] == "ptw — Permit-to-Work API"
    assert document["info"]["version"] == "1.0.0"
    assert "/metrics" not in document["paths"]  # operations' own endpoint, not part of the API


def test_every_operation_has_a_unique_id_a_description_and_a_tag(document: dict[str, Any]) -> None:
    found = list(operations(document))
    ids = [op.get("operationId") for _, _, op in found]
    assert all(ids) and len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for path, method, op in found:
        assert op.get("description", "").strip(), f"{method.upper()} {path} has no description"
        assert op.get("tags"), f"{method.upper()} {path} has no tag"


def test_SEC_01_every_operation_but_the_probes_needs_the_bearer_token(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    [(name, scheme)] = schemes.items()
    assert (scheme["type"], scheme["scheme"].lower(), scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "name" not in scheme  # OpenAPI 3.1: an http scheme has none
    for path, method, op in operations(document):
        security = op.get("security", document.get("security", []))
        if path.startswith(OPEN):
            assert security in ([{}], []), f"{method.upper()} {path} asks for a token"
        else:
            assert {name: []} in security, f"{method.upper()} {path} does not require the bearer token"


def test_SEC_07_every_error_response_is_a_problem(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code"} <= set(problem["required"])
    assert {"rule_ids", "blockers", "correlation_id", "instance", "detail"} <= set(problem["properties"])
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            if int(status) < 400 or (op["operationId"], status) == ("readinessProbe", "503"):
                continue  # the probe's 503 is its Health report
            content = response.get("content", {})
            assert set(content) == {"application/problem+json"}, f"{method.upper()} {path} {status}"
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        if path.startswith("/api/v1/"):
            assert {"401", "404", "422", "429"} <= set(op["responses"]), f"{method.upper()} {path}"


def test_issue_5_every_command_route_is_a_documented_post(document: dict[str, Any]) -> None:
    documented = by_operation_id(document)
    for route in ROUTES:
        operation_id = route.command.__name__[0].lower() + route.command.__name__[1:]
        path, method, op = documented[operation_id]
        assert method == "post" and path.endswith(route.path.replace(":uuid", ""))
        assert op["description"] == route.summary
        assert "requestBody" in op and op["requestBody"]["required"] is True


def test_SEC_12_command_bodies_carry_no_server_facts_and_refuse_unknown_members(
    document: dict[str, Any],
) -> None:
    assert FORBIDDEN_IN_BODIES <= SERVER_FIELDS
    documented = by_operation_id(document)
    for route in ROUTES:
        operation_id = route.command.__name__[0].lower() + route.command.__name__[1:]
        _, _, op = documented[operation_id]
        body = resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
        members = set(body.get("properties", {}))
        assert members & SERVER_FIELDS == set(), f"{operation_id} takes {members & SERVER_FIELDS}"
        assert members & set(route.path_ids) == set(), f"{operation_id} repeats its path ids in the body"
        assert set(route.created) <= members and set(route.created) & set(body.get("required", [])) == set()
        assert body.get("additionalProperties") is False, f"{operation_id} accepts unknown members"


def test_SEC_09_and_SEC_10_commands_document_idempotency_key_and_permit_commands_if_match(
    document: dict[str, Any],
) -> None:
    documented = by_operation_id(document)
    for route in ROUTES:
        operation_id = route.command.__name__[0].lower() + route.command.__name__[1:]
        _, _, op = documented[operation_id]
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, operation_id
        # If-Match names a permit version: offered on permit commands only (others refuse it, 422)
        assert ("If-Match" in headers) == issubclass(route.command, PermitCommand), operation_id


def test_no_schema_component_is_a_domain_event(document: dict[str, Any]) -> None:
    """Events never travel on the wire: the API speaks commands, outcomes and read models."""
    events = set(EVENT_TYPES)
    assert len(events) > 50  # the catalogue is really there
    components = set(document["components"]["schemas"])
    assert [name for name in components if any(name.endswith(event) for event in events)] == []


def test_the_interactive_ui_is_served_at_schema_when_openapi_ui_is_on(ui_client: TestClient[Any]) -> None:
    for path in ("/schema", "/schema/swagger"):
        response = ui_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert "<title>ptw — Permit-to-Work API</title>" in response.text
    assert "Authorization" not in str(ui_client.get("/schema").request.headers)  # no token needed


def test_without_openapi_ui_only_the_document_is_served() -> None:
    with TestClient(create_app(settings(openapi_ui=False))) as client:
        assert client.get("/schema/swagger").status_code == 404
        schema = client.get("/schema")
        assert (schema.status_code, schema.json()["openapi"][:4]) == (200, "3.1.")
        assert client.get("/schema/openapi.json").status_code == 200
