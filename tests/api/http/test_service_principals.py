# ruff: noqa: N802
"""Integration principals over HTTP: client-credential tokens with explicit scopes (SEC-02) and the acts they
may never do (ROLE-07)."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from ptw_api.http.auth import ProjectGrant, mint_token
from ptw_api.http.settings import ApiSettings
from ptw_domain.roles import ActorKind, Role
from tests.builders import World


def _service_token(settings: ApiSettings, site: World, *scopes: str) -> dict[str, str]:
    token = mint_token(
        settings,
        subject="erp-connector",
        projects={site.project_id: ProjectGrant(roles=frozenset({Role.INTEGRATION}))},
        organisation=site.organisation_id,
        kind=ActorKind.SERVICE,
        scopes=scopes,
    )
    return {"Authorization": f"Bearer {token}"}


def _draft(site: World) -> dict[str, Any]:
    start = site.clock.now().replace(hour=10, minute=0, second=0, microsecond=0)
    return {
        "template_key": "cold-work",
        "origin_ref": None,
        "content": {
            "description": "Replace a valve gasket (work order 4711)",
            "area": "A1",
            "planned_start": start.isoformat(),
            "planned_end": start.replace(hour=16).isoformat(),
            "probability": 2,
            "severity": 2,
        },
    }


def test_SEC_02_a_service_principal_without_scopes_is_refused(
    client: TestClient[Any], site: World, api_settings: ApiSettings
) -> None:
    headers = _service_token(api_settings, site)
    response = client.get(f"/api/v1/projects/{site.project_id}/permits", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert response.json()["rule_ids"] == ["SEC-02"]


def test_SEC_02_the_read_scope_reads_but_does_not_write(
    client: TestClient[Any], site: World, api_settings: ApiSettings
) -> None:
    headers = _service_token(api_settings, site, "ptw:read")
    base = f"/api/v1/projects/{site.project_id}"
    assert client.get(f"{base}/permits", headers=headers).status_code == 200
    head = client.app.state.runtime.head()
    body = _draft(site)
    body.pop("origin_ref")
    refused = client.post(f"{base}/permits", json=body, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["rule_ids"] == ["SEC-02"]
    assert client.app.state.runtime.head() == head


def test_SEC_02_ROLE_07_the_write_scope_drafts_from_a_work_order_but_never_records_safety_facts(
    client: TestClient[Any], site: World, api_settings: ApiSettings
) -> None:
    headers = _service_token(api_settings, site, "ptw:read", "ptw:write")
    base = f"/api/v1/projects/{site.project_id}"
    body = _draft(site)
    body.pop("origin_ref")
    created = client.post(f"{base}/permits", json=body, headers=headers)
    assert created.status_code == 201, created.text
    permit_id = created.json()["stream_id"]
    point = site.register_point("V-101")
    head = client.app.state.runtime.head()
    refused = client.post(
        f"{base}/permits/{permit_id}/assign-isolation-point", json={"point_id": str(point)}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["rule_ids"] == ["ROLE-07"]
    assert client.app.state.runtime.head() == head
