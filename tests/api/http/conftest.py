"""HTTP API fixtures: the real Litestar app over the parametrised store (memory, SQLite, PostgreSQL), the
projection followers running inside it, a `World` (tests/builders.py) set up through the same PermitService,
and signed bearer tokens for its people."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from ptw_api.http.app import create_app
from ptw_api.http.auth import ProjectGrant, mint_token
from ptw_api.http.settings import ApiSettings
from ptw_domain.clock import ManualClock
from ptw_domain.roles import Member
from tests.builders import World

SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def api_settings(database_url: str) -> ApiSettings:
    return ApiSettings(
        database_url=database_url,
        jwt_secret=SECRET,
        rate_limits_enabled=False,
        openapi_ui=False,
        # RM-08: a read after a write waits for the projections; under the whole suite's load the default 2 s
        # was once not enough (a 503 for a list read right after a create). A 503 here would mean the
        # projections stalled, which the consistency tests check with their own, shorter waits.
        read_wait_seconds=30.0,
    )


@pytest.fixture
def client(api_settings: ApiSettings, clock: ManualClock) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(api_settings, clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def site(client: TestClient[Any], clock: ManualClock) -> World:
    """An opened project with templates and people, recorded through the app's own service."""
    return World.create(client.app.state.runtime.service, clock)


def grant_of(member: Member) -> ProjectGrant:
    return ProjectGrant(
        roles=member.roles,
        authority_level=member.authority_level,
        company_id=member.company_id,
        company_kind=member.company_kind,
    )


def token_for(
    settings: ApiSettings,
    world: World,
    who: str,
    *,
    org_admin: bool = False,
    clock: ManualClock | None = None,
    lifetime: timedelta = timedelta(hours=8),
) -> str:
    """A bearer token for one of the world's people, member of its project only."""
    member = world.people[who]
    return mint_token(
        settings,
        subject=member.person_id,
        name=member.name,
        projects={world.project_id: grant_of(member)},
        organisation=world.organisation_id,
        org_admin=org_admin,
        lifetime=lifetime,
        now=clock.now() if clock else None,
    )


class Caller:
    """One person calling the API: `caller.post(path, json=...)` below /api/v1/projects/{project}."""

    def __init__(self, client: TestClient[Any], world: World, token: str, project_id: uuid.UUID) -> None:
        self.client = client
        self.world = world
        self.headers = {"Authorization": f"Bearer {token}"}
        self.base = f"/api/v1/projects/{project_id}"

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(self.base + path, json=json, headers=self.headers | (headers or {}))

    def get(
        self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        return self.client.get(self.base + path, params=params, headers=self.headers | (headers or {}))


@pytest.fixture
def as_person(client: TestClient[Any], site: World, api_settings: ApiSettings) -> Any:
    """`as_person("req")` -> a Caller with that person's token for the site's project."""

    def make(who: str, *, org_admin: bool = False) -> Caller:
        return Caller(client, site, token_for(api_settings, site, who, org_admin=org_admin), site.project_id)

    return make
