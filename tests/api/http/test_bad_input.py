# ruff: noqa: N802
"""Bad input over HTTP (SEC-01, SEC-07, SEC-10, SEC-11, SEC-12): every malformed request is refused with the right
problem, names what was wrong, records nothing, and never answers 500.

Every refusal is checked to be `application/problem+json` with `type` `urn:ptw:problem:<code>` and the response's
`X-Correlation-ID` as its `correlation_id` (SEC-07); every refused write leaves the store head where it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.api.http.matrix import Env, assert_problem, open_env, wire_body
from tests.builders import create, verify

MIB = 1024 * 1024


@pytest.fixture(
    scope="module",
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bad-input') / 'ptw.db'}"
    else:
        url = request.getfixturevalue("bad_input_postgres_url")
    with open_env(url) as opened:
        yield opened


@pytest.fixture(scope="module")
def bad_input_postgres_url(postgres_dsn: str) -> Iterator[str]:
    import psycopg

    schema = f"ptw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_dsn}?schema={schema}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')


def url(env: Env, path: str) -> str:
    return f"/api/v1/projects/{env.world.project_id}{path}"


def create_body(env: Env, **content: Any) -> dict[str, Any]:
    """A valid CreatePermit request body."""
    return wire_body(create(env.world, "cold-work", **content))


def post(env: Env, path: str, body: Any = None, *, who: str = "req", **headers: str) -> Any:
    return env.client.post(url(env, path), json=body, headers=env.headers(env.token(who), **headers))


def refused_write(env: Env, status: int, code: str, path: str, body: Any, **headers: str) -> dict[str, Any]:
    """POST a bad request: the problem, and nothing written (SEC-12)."""
    head = env.head()
    answer = post(env, path, body, **headers)
    problem = assert_problem(answer, status, code)
    assert env.head() == head, "a refused write records nothing"
    return problem


def test_SEC_12_a_valid_body_is_accepted(env: Env) -> None:
    """The control for everything below: the same body, untouched, creates a permit."""
    answer = post(env, "/permits", create_body(env))
    assert answer.status_code == 201, answer.text


# --- the body ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"template_key": "cold-work",', b"\xff\xfe\x00", b'{"a": 1} trailing'],
    ids=["garbage", "truncated", "not-utf8", "trailing"],
)
def test_SEC_12_malformed_json_is_a_bad_request(env: Env, raw: bytes) -> None:
    """SEC-12: a body that is not JSON is 400 bad_request, nothing recorded."""
    head = env.head()
    answer = env.client.post(
        url(env, "/permits"),
        content=raw,
        headers=env.headers(env.token("req"), **{"Content-Type": "application/json"}),
    )
    assert_problem(answer, 400, "bad_request")
    assert env.head() == head


def test_SEC_12_a_body_that_is_not_an_object_is_refused(env: Env) -> None:
    """SEC-12: a JSON array where an object is expected is refused 422, nothing recorded."""
    refused_write(env, 422, "validation_failed", "/permits", [1, 2, 3])


def test_SEC_12_an_unknown_field_is_refused_naming_it(env: Env) -> None:
    problem = refused_write(env, 422, "validation_failed", "/permits", create_body(env) | {"colour": "red"})
    assert problem["fields"] == ["colour"], problem
    assert "SEC-12" in problem["rule_ids"]


def test_SEC_12_an_unknown_nested_field_is_refused_naming_its_path(env: Env) -> None:
    body = create_body(env)
    body["content"]["colour"] = "red"
    problem = refused_write(env, 422, "validation_failed", "/permits", body)
    assert problem["fields"] == ["content.colour"], problem


DERIVED = ["actor", "at", "status", "risk_level", "version", "organisation_id", "expected_version", "context"]


@pytest.mark.parametrize("name", DERIVED)
def test_SEC_12_a_derived_field_in_a_create_body_is_refused_naming_it(env: Env, name: str) -> None:
    """SEC-12/LIFE-01: server facts and derived values are never taken from the body."""
    problem = refused_write(env, 422, "validation_failed", "/permits", create_body(env) | {name: "x"})
    assert problem["fields"] == [name], problem


@pytest.fixture(scope="module")
def draft(env: Env) -> uuid.UUID:
    return env.world.draft(area="B1", equipment_tags=("B-1",))


@pytest.mark.parametrize("name", DERIVED)
def test_SEC_12_a_derived_field_in_a_permit_command_is_refused_naming_it(
    env: Env, draft: uuid.UUID, name: str
) -> None:
    """SEC-12: the same for a command on a permit (EditPermit); the permit keeps its version."""
    version = env.world.permit(draft).version
    body = {"changes": {"title": "New title"}, name: 1}
    problem = refused_write(env, 422, "validation_failed", f"/permits/{draft}/edit", body)
    assert problem["fields"] == [name], problem
    assert env.world.permit(draft).version == version


@pytest.mark.parametrize("name", ["risk_level", "status", "number", "valid_until"])
def test_SEC_12_a_derived_content_field_is_refused_naming_its_path(env: Env, name: str) -> None:
    """LIFE-01/RISK-02: derived permit values inside the content are refused too."""
    body = create_body(env)
    body["content"][name] = "x"
    problem = refused_write(env, 422, "validation_failed", "/permits", body)
    assert problem["fields"] == [f"content.{name}"], problem


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("content.planned_start", 12),
        ("content.planned_start", "next tuesday"),
        ("content.probability", "high"),
        ("content.probability", 9),
        ("content.confined_space", "yes"),
        ("content.hazards", "fire"),
        ("content.related_permits", ["not-a-uuid"]),
        ("template_key", 7),
        ("content", "a string"),
    ],
)
def test_SEC_12_a_wrong_type_is_refused_naming_the_field_path(env: Env, path: str, value: Any) -> None:
    body = create_body(env)
    *parents, leaf = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    problem = refused_write(env, 422, "validation_failed", "/permits", body)
    assert problem["fields"] and problem["fields"][0].startswith(path), problem


def test_SEC_12_a_missing_required_field_is_refused_naming_it(env: Env) -> None:
    body = create_body(env)
    del body["content"]["description"]
    problem = refused_write(env, 422, "validation_failed", "/permits", body)
    assert problem["fields"] == ["content.description"] or "description" in problem["detail"], problem


def test_SEC_11_a_body_over_one_mebibyte_is_too_large(env: Env) -> None:
    """SEC-11: 1 MiB is the limit (413 payload_too_large), whatever the body holds."""
    body = create_body(env)
    body["content"]["notes"] = "x" * (MIB + 10)
    problem = refused_write(env, 413, "payload_too_large", "/permits", body)
    assert "SEC-11" in problem["rule_ids"], problem


def _long(n: int) -> str:
    return "x" * n


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", _long(201)),
        ("description", _long(10_001)),
        ("location", _long(501)),
        ("area", _long(201)),
        ("emergency_arrangements", _long(2_001)),
        ("ppe", ["gloves"] * 51),
        ("hazards", ["fire"] * 101),
        ("controls", ["watch"] * 101),
        ("equipment_tags", [f"T-{i}" for i in range(51)]),
        ("checklist_answers", {f"k{i}": True for i in range(301)}),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else f"{type(v).__name__}{len(v)}",
)
def test_SEC_11_content_over_its_limits_is_refused(env: Env, field: str, value: Any) -> None:
    """SEC-11: title 200, description 10 000, location 500, other strings 200, long texts 2 000; lists: PPE 50,
    hazards and controls 100, equipment tags 50, checklist answers 300."""
    body = create_body(env)
    body["content"][field] = value
    problem = refused_write(env, 422, "validation_failed", "/permits", body)
    assert problem["fields"] and problem["fields"][0].startswith(f"content.{field}"), problem


def test_SEC_11_content_at_its_limits_is_accepted(env: Env) -> None:
    """The boundary: exactly at every limit is fine."""
    body = create_body(
        env,
        title=_long(200),
        description=_long(10_000),
        ppe=tuple(f"p{i}" for i in range(50)),
        hazards=tuple(f"h{i}" for i in range(100)),
    )
    answer = post(env, "/permits", body)
    assert answer.status_code == 201, answer.text


def test_SEC_11_a_reason_over_2000_characters_is_refused(env: Env, draft: uuid.UUID) -> None:
    version = env.world.permit(draft).version
    problem = refused_write(
        env, 422, "validation_failed", f"/permits/{draft}/cancel", {"reason": _long(2_001)}
    )
    assert problem["fields"] == ["reason"], problem
    assert env.world.permit(draft).version == version


def test_SEC_11_more_than_five_approvers_are_refused(env: Env) -> None:
    w = env.world
    pid = w.submitted(area="B2", equipment_tags=("B-2",))
    body = wire_body(verify(w, pid, approvers=tuple(w.people[p] for p in ["app", "app2"] * 3)))
    version = w.permit(pid).version
    problem = refused_write(env, 422, "validation_failed", f"/permits/{pid}/verify", body)
    assert problem["fields"] == ["approvers"], problem
    assert w.permit(pid).version == version


@pytest.mark.parametrize("field", ["planned_start", "planned_end"])
def test_SEC_11_an_instant_without_an_offset_is_refused(env: Env, field: str) -> None:
    """SEC-11: instants must carry an offset; a naive one is refused naming the field, never guessed."""
    body = create_body(env)
    body["content"][field] = datetime.fromisoformat(body["content"][field]).replace(tzinfo=None).isoformat()
    problem = refused_write(env, 422, "validation_failed", "/permits", body)
    assert problem["fields"] == [f"content.{field}"], problem


def test_SEC_11_a_command_instant_without_an_offset_is_refused(env: Env) -> None:
    """SEC-11: the same for an instant at the top of a command body (a delegation's window)."""
    naive = (env.clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    body: dict[str, Any] = {
        "delegate": {
            "person_id": "app2",
            "roles": ["approver"],
            "authority_level": 3,
            "company_kind": "owner",
        }
    }
    body |= {"role": "approver", "valid_until": naive}
    head = env.head()
    answer = env.client.post(url(env, "/delegations"), json=body, headers=env.headers(env.token("app")))
    problem = assert_problem(answer, 422, "validation_failed")
    assert problem["fields"] == ["valid_until"], problem
    assert env.head() == head


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"description": "weld\x00bracket"}, "content.description"),
        ({"hazards": ("fire", "gas\x00")}, "content.hazards"),
        ({"checklist_answers": {"ok\x00": True}}, "content.checklist_answers"),
    ],
    ids=["text", "list-item", "map-key"],
)
def test_SEC_11_text_with_a_nul_character_is_refused(env: Env, content: dict[str, Any], field: str) -> None:
    """SEC-11/12: a NUL character is refused naming the field; PostgreSQL cannot store one, so an event holding
    it would stop the projections for good (every later read 503)."""
    problem = refused_write(env, 422, "validation_failed", "/permits", create_body(env, **content))
    assert problem["fields"] == [field], problem
    assert "SEC-11" in problem["rule_ids"], problem
    listed = env.client.get(url(env, "/permits"), headers=env.headers(env.token("req")))
    assert listed.status_code == 200, listed.text


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/permits", {"q": "weld\x00"}),
        ("/audit-trail", {"actor": "req\x00"}),
        ("/registers/isolations", {"point": "V\x00"}),
        ("/tasks", {"kind": "x\x00"}),
    ],
)
def test_SEC_11_a_nul_character_in_a_query_parameter_is_refused_naming_it(
    env: Env, path: str, params: dict[str, str]
) -> None:
    """SEC-11: never a 500 (PostgreSQL cannot compare text holding a NUL): 422 naming the parameter."""
    answer = env.client.get(url(env, path), params=params, headers=env.headers(env.token("admin")))
    problem = assert_problem(answer, 422, "validation_failed")
    assert problem["fields"] == list(params), problem


# --- SEC-01: the bearer token ------------------------------------------------------------------------------


def _claims(env: Env, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    w = env.world
    claims: dict[str, Any] = {
        "sub": "req",
        "iss": env.settings.jwt_issuer,
        "aud": env.settings.jwt_audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "org": str(w.organisation_id),
        "projects": {str(w.project_id): {"roles": ["requestor"], "authority_level": 1}},
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(env: Env, *, secret: str | None = None, **changes: Any) -> str:
    return jwt.encode(_claims(env, **changes), secret or env.settings.jwt_secret, algorithm="HS256")


def _now(offset: int) -> int:
    return int(datetime.now(UTC).timestamp()) + offset


def _bad_tokens(env: Env) -> dict[str, dict[str, str]]:
    bearer = "Bearer {}".format
    unsigned = jwt.encode(_claims(env), None, algorithm="none")  # type: ignore[arg-type]
    return {
        "missing": {},
        "not-bearer": {"Authorization": f"Basic {_token(env)}"},
        "garbage": {"Authorization": "Bearer not.a.token"},
        "empty": {"Authorization": "Bearer "},
        "expired-beyond-leeway": {
            "Authorization": bearer(_token(env, exp=_now(-120), iat=_now(-3600), nbf=_now(-3600)))
        },
        "not-yet-valid": {"Authorization": bearer(_token(env, nbf=_now(300)))},
        "wrong-issuer": {"Authorization": bearer(_token(env, iss="someone-else"))},
        "wrong-audience": {"Authorization": bearer(_token(env, aud="another-api"))},
        "wrong-signature": {"Authorization": bearer(_token(env, secret="another-secret-" + "y" * 40))},
        "no-subject": {"Authorization": bearer(_token(env, sub=None))},
        "no-expiry": {"Authorization": bearer(_token(env, exp=None))},
        "malformed-projects": {"Authorization": bearer(_token(env, projects=["not", "a", "map"]))},
        "unknown-role": {
            "Authorization": bearer(_token(env, projects={str(env.world.project_id): {"roles": ["king"]}}))
        },
        "alg-none": {"Authorization": bearer(unsigned)},
    }


BAD_TOKENS = [
    "missing",
    "not-bearer",
    "garbage",
    "empty",
    "expired-beyond-leeway",
    "not-yet-valid",
    "wrong-issuer",
    "wrong-audience",
    "wrong-signature",
    "no-subject",
    "no-expiry",
    "malformed-projects",
    "unknown-role",
    "alg-none",
]


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_SEC_01_a_bad_token_is_unauthenticated_for_reads_and_writes(env: Env, kind: str) -> None:
    """SEC-01/SEC-03: no valid token -> 401 unauthenticated, for a read and for a write; nothing recorded."""
    headers = _bad_tokens(env)[kind]
    head = env.head()
    write = env.client.post(url(env, "/permits"), json=create_body(env), headers=headers)
    read = env.client.get(url(env, "/permits"), headers=headers)
    for answer in (write, read):
        problem = assert_problem(answer, 401, "unauthenticated")
        assert "Bearer" not in answer.text and "eyJ" not in answer.text, "the problem never echoes the token"
        assert problem["detail"]
    assert env.head() == head


@pytest.mark.parametrize(
    "changes",
    [{"exp": -30}, {"nbf": 30}],
    ids=["expired-within-leeway", "not-before-within-leeway"],
)
def test_SEC_01_a_token_within_the_60_second_leeway_is_accepted(env: Env, changes: dict[str, int]) -> None:
    """SEC-01: `exp` and `nbf` are checked with 60 s of leeway."""
    claims: dict[str, Any] = {k: _now(v) for k, v in changes.items()}
    token = _token(env, iat=_now(-600), **claims)
    answer = env.client.get(url(env, "/permits"), headers=env.headers(token))
    assert answer.status_code == 200, answer.text


def test_SEC_01_health_and_schema_need_no_token(env: Env) -> None:
    assert env.client.get("/schema/openapi.json").status_code == 200
    assert env.client.get("/health/live").status_code == 200


# --- SEC-10: If-Match ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["seven", "7", '"seven"', '"-1"', '"7', "*"])
def test_SEC_10_a_malformed_if_match_is_refused(env: Env, draft: uuid.UUID, value: str) -> None:
    version = env.world.permit(draft).version
    problem = refused_write(
        env,
        422,
        "validation_failed",
        f"/permits/{draft}/edit",
        {"changes": {"title": "T"}},
        **{"If-Match": value},
    )
    assert problem["fields"] == ["If-Match"], problem
    assert env.world.permit(draft).version == version


def test_SEC_10_a_stale_if_match_is_412_and_the_current_one_passes(env: Env) -> None:
    w = env.world
    pid = w.draft(area="B3", equipment_tags=("B-3",))
    current = w.permit(pid).version
    problem = refused_write(
        env,
        412,
        "stale_version",
        f"/permits/{pid}/edit",
        {"changes": {"title": "T"}},
        **{"If-Match": f'"{current + 5}"'},
    )
    assert problem["current_version"] == current and "SEC-10" in problem["rule_ids"], problem
    assert w.permit(pid).version == current
    for tag in (f'"{current}"', f'W/"{current + 1}"'):
        answer = post(env, f"/permits/{pid}/edit", {"changes": {"title": f"T{tag}"}}, **{"If-Match": tag})
        assert answer.status_code == 200, answer.text
        assert answer.headers["ETag"] == f'"{w.permit(pid).version}"'


def test_SEC_09_an_idempotency_key_over_200_characters_is_refused(env: Env) -> None:
    problem = refused_write(
        env, 422, "validation_failed", "/permits", create_body(env), **{"Idempotency-Key": "k" * 201}
    )
    assert problem["fields"], problem


# --- query parameters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/permits", {"colour": "red"}, "colour"),
        ("/permits", {"sort": "colour"}, "sort"),
        ("/permits", {"page_size": "101"}, "page_size"),
        ("/permits", {"page_size": "ten"}, "page_size"),
        ("/permits", {"page": "0"}, "page"),
        ("/permits", {"as_of": "yesterday"}, "as_of"),
        ("/permits", {"as_of": "2026-11-25T08:00:00"}, "as_of"),
        ("/permits", {"status": "flying"}, "status"),
        ("/tasks", {"page_size": "101"}, "page_size"),
        ("/tasks", {"as_of": "soon"}, "as_of"),
        ("/registers/isolations", {"page_size": "101"}, "page_size"),
        ("/registers/isolations", {"permit": "not-a-uuid"}, "permit"),
        ("/registers/locks", {"worker": "x"}, "worker"),
        ("/registers/conflicts", {"colour": "red"}, "colour"),
        ("/kpis", {"as_of": "2026-13-45"}, "as_of"),
        ("/kpis", {"colour": "red"}, "colour"),
        ("/board", {"at": "noon"}, "at"),
        ("/audit-trail", {"page_size": "101"}, "page_size"),
        ("/audit-trail", {"colour": "red"}, "colour"),
        ("/audit/verification", {"permit": "x"}, "permit"),
        ("/reports/compliance-summary", {"date_from": "last week"}, "date_from"),
        ("/reports/compliance-exceptions", {"exceptions_cap": "many"}, "exceptions_cap"),
    ],
)
def test_SEC_12_a_bad_query_parameter_is_refused_naming_it(
    env: Env, path: str, params: dict[str, str], field: str
) -> None:
    """SEC-12/SEC-11: unknown parameters, bad sort keys, page_size over 100 and malformed instants are 422 naming
    the parameter."""
    answer = env.client.get(url(env, path), params=params, headers=env.headers(env.token("admin")))
    problem = assert_problem(answer, 422, "validation_failed")
    assert field in problem["fields"], problem


@pytest.mark.parametrize(
    ("suffix", "params", "field"),
    [
        ("", {"as_of": "tomorrow"}, "as_of"),
        ("/at", {}, "version"),
        ("/at", {"version": "1", "at": "2026-11-25T08:00:00+00:00"}, "version"),
        ("/at", {"at": "2026-11-25T08:00:00"}, "at"),
        ("/at", {"version": "one"}, "version"),
        ("/readiness", {"as_me": "perhaps"}, "as_me"),
        ("/readiness", {"colour": "red"}, "colour"),
    ],
)
def test_SEC_12_bad_parameters_of_a_permit_read_are_refused_naming_them(
    env: Env, draft: uuid.UUID, suffix: str, params: dict[str, str], field: str
) -> None:
    answer = env.client.get(
        url(env, f"/permits/{draft}{suffix}"), params=params, headers=env.headers(env.token("req"))
    )
    problem = assert_problem(answer, 422, "validation_failed")
    assert field in problem["fields"], problem


def test_SEC_12_a_malformed_path_id_is_not_a_500(env: Env) -> None:
    """A path id that is no UUID is refused (404, or 4xx naming it), never a 500."""
    answer = env.client.get(url(env, "/permits/not-a-uuid"), headers=env.headers(env.token("req")))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    answer = env.client.post(
        "/api/v1/projects/not-a-uuid/permits", json=create_body(env), headers=env.headers(env.token("req"))
    )
    assert 400 <= answer.status_code < 500, answer.text


def test_SEC_07_an_unknown_route_and_a_wrong_method_are_problems(env: Env) -> None:
    token = env.token("req")
    assert_problem(env.client.get(url(env, "/no-such-thing"), headers=env.headers(token)), 404, "not_found")
    answer = env.client.get(
        url(env, "/permits/" + str(uuid.uuid4()) + "/approve"), headers=env.headers(token)
    )
    assert answer.status_code in (404, 405), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
