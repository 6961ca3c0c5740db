# ruff: noqa: N802
"""SEC-01 with configured keys and claim names, against the real app: public keys from a JWKS file, a PEM file
or a JWKS URL (served by a local HTTP server started here), keys generated in the test; algorithm confusion,
`none`, wrong keys and kids and expiry beyond the leeway are 401 `unauthenticated`; bad settings are refused at
start naming the setting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar.testing import TestClient

from ptw_api.cli import cli
from ptw_api.http.app import create_app
from ptw_api.http.auth import mint_token
from ptw_api.http.keys import PrivateKey, SigningKey
from ptw_api.http.settings import ApiSettings
from ptw_api.http.verified import VerifiedTokens
from ptw_domain.clock import ManualClock
from tests.api.http.conftest import SECRET, grant_of
from tests.api.http.matrix import assert_problem
from tests.builders import World

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SIGNERS = {"RS256": SigningKey(RSA_KEY, "RS256", "rsa-1"), "ES256": SigningKey(EC_KEY, "ES256", "ec-1")}


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def jwks(*signers: SigningKey) -> str:
    """The JWK Set an identity provider publishes for these keys."""
    keys = []
    for signer in signers:
        assert not isinstance(signer.key, str)
        public = jwt.get_algorithm_by_name(signer.algorithm).to_jwk(signer.key.public_key())
        keys.append(json.loads(public) | {"kid": signer.kid, "use": "sig", "alg": signer.algorithm})
    return json.dumps({"keys": keys})


@pytest.fixture
def database_url() -> str:
    """Authentication does not depend on the store: the in-memory one."""
    return "memory://"


@pytest.fixture
def key_files(tmp_path: Path) -> dict[str, str]:
    files = {"jwks": tmp_path / "jwks.json", "pem": tmp_path / "public.pem"}
    files["jwks"].write_text(jwks(*SIGNERS.values()))
    files["pem"].write_bytes(public_pem(RSA_KEY))
    return {name: str(path) for name, path in files.items()}


@pytest.fixture
def api_settings(database_url: str, key_files: dict[str, str]) -> ApiSettings:
    return ApiSettings.from_env(
        {"PTW_JWT_JWKS_FILE": key_files["jwks"]},
        database_url=database_url,
        rate_limits_enabled=False,
        openapi_ui=False,
    )


def claims(settings: ApiSettings, world: World, **changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    member = world.people["req"]
    payload: dict[str, Any] = {
        "sub": member.person_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "projects": {str(world.project_id): {"roles": ["requestor"], "authority_level": 1}},
    }
    return {k: v for k, v in (payload | changes).items() if v is not None}


def signed(payload: dict[str, Any], signer: SigningKey) -> str:
    headers = {"kid": signer.kid} if signer.kid else None
    return jwt.encode(payload, signer.key, algorithm=signer.algorithm, headers=headers)


def hs256_with_public_key(payload: dict[str, Any], kid: str) -> str:
    """The algorithm-confusion attack: an HS256 token whose secret is the public key's PEM (PyJWT refuses to
    make one, so it is put together by hand)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(public_pem(RSA_KEY), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def read(client: TestClient[Any], world: World, token: str) -> Any:
    return client.get(
        f"/api/v1/projects/{world.project_id}/permits", headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_SEC_01_a_token_signed_by_a_key_of_the_configured_set_is_accepted(
    client: TestClient[Any], site: World, api_settings: ApiSettings, algorithm: str
) -> None:
    member = site.people["req"]
    token = mint_token(
        api_settings,
        subject=member.person_id,
        projects={site.project_id: grant_of(member)},
        signing_key=SIGNERS[algorithm],
    )
    assert jwt.get_unverified_header(token)["kid"] == SIGNERS[algorithm].kid
    answer = read(client, site, token)
    assert answer.status_code == 200, answer.text


def bad_tokens(settings: ApiSettings, world: World) -> dict[str, str]:
    payload = claims(settings, world)
    now = int(datetime.now(UTC).timestamp())
    return {
        "wrong-key": signed(payload, SigningKey(OTHER_RSA_KEY, "RS256", "rsa-1")),
        "unknown-kid": signed(payload, SigningKey(RSA_KEY, "RS256", "rsa-retired")),
        "no-kid": jwt.encode(payload, RSA_KEY, algorithm="RS256"),
        "kid-of-another-algorithm": signed(payload, SigningKey(RSA_KEY, "RS256", "ec-1")),
        "alg-confusion": hs256_with_public_key(payload, "rsa-1"),
        "alg-none": jwt.encode(payload, None, algorithm="none", headers={"kid": "rsa-1"}),  # type: ignore[arg-type]
        "hs256-with-the-old-secret": jwt.encode(payload, SECRET, algorithm="HS256", headers={"kid": "rsa-1"}),
        "expired-beyond-leeway": signed(
            claims(settings, world, exp=now - 120, iat=now - 3600, nbf=now - 3600), SIGNERS["RS256"]
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "wrong-key",
        "unknown-kid",
        "no-kid",
        "kid-of-another-algorithm",
        "alg-confusion",
        "alg-none",
        "hs256-with-the-old-secret",
        "expired-beyond-leeway",
    ],
)
def test_SEC_01_a_token_the_configured_keys_do_not_verify_is_unauthenticated(
    client: TestClient[Any], site: World, api_settings: ApiSettings, kind: str
) -> None:
    """SEC-01/SEC-03: 401 `unauthenticated`, never a 500, whatever the token's header claims."""
    answer = read(client, site, bad_tokens(api_settings, site)[kind])
    assert_problem(answer, 401, "unauthenticated")


def test_SEC_01_a_token_within_the_leeway_is_accepted_with_public_keys(
    client: TestClient[Any], site: World, api_settings: ApiSettings
) -> None:
    now = int(datetime.now(UTC).timestamp())
    token = signed(claims(api_settings, site, exp=now - 30, iat=now - 600), SIGNERS["ES256"])
    assert read(client, site, token).status_code == 200


def test_SEC_01_a_public_key_from_a_pem_file_verifies_and_only_its_own_tokens(
    key_files: dict[str, str], site: World, api_settings: ApiSettings
) -> None:
    settings = ApiSettings.from_env(
        {"PTW_JWT_PUBLIC_KEY_FILE": key_files["pem"], "PTW_JWT_ALGORITHMS": "RS256"},
        database_url="memory://",
        rate_limits_enabled=False,
    )
    payload = claims(settings, site)
    with TestClient(create_app(settings)) as client:
        assert read(client, site, signed(payload, SIGNERS["RS256"])).status_code == 200
        for token in (
            signed(payload, SIGNERS["ES256"]),
            signed(payload, SigningKey(OTHER_RSA_KEY, "RS256", None)),
            hs256_with_public_key(payload, "rsa-1"),
        ):
            assert_problem(read(client, site, token), 401, "unauthenticated")


class JwksServer:
    """The identity provider's JWKS endpoint: a real HTTP server on a free local port, counting its fetches."""

    def __init__(self, body: str) -> None:
        self.body = body.encode()
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer(jwks(*SIGNERS.values()))
    yield server
    server.close()


def test_SEC_01_keys_from_a_jwks_url_are_fetched_once_and_cached(
    jwks_server: JwksServer, site: World
) -> None:
    settings = ApiSettings.from_env(
        {"PTW_JWT_JWKS_URL": jwks_server.url}, database_url="memory://", rate_limits_enabled=False
    )
    payload = claims(settings, site)
    with TestClient(create_app(settings)) as client:
        assert jwks_server.fetches == 0, "nothing is fetched before a token needs it"
        for _ in range(3):
            assert (
                read(client, site, signed(payload, SIGNERS["RS256"])).status_code == 200
            )  # not this store's
        assert read(client, site, signed(payload, SIGNERS["ES256"])).status_code == 200
        assert jwks_server.fetches == 1
        assert_problem(
            read(client, site, signed(payload, SigningKey(OTHER_RSA_KEY, "RS256", "rsa-1"))),
            401,
            "unauthenticated",
        )
        assert_problem(read(client, site, hs256_with_public_key(payload, "rsa-1")), 401, "unauthenticated")


def test_SEC_01_an_unreachable_jwks_url_is_unauthenticated_not_an_error(site: World) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        url = f"http://127.0.0.1:{closed.server_address[1]}/jwks.json"  # closed again before it is asked
    settings = ApiSettings.from_env(
        {"PTW_JWT_JWKS_URL": url}, database_url="memory://", rate_limits_enabled=False
    )
    with TestClient(create_app(settings)) as client:
        token = signed(claims(settings, site), SIGNERS["RS256"])
        assert_problem(read(client, site, token), 401, "unauthenticated")


RENAMED = {
    "PTW_JWT_CLAIM_SUB": "oid",
    "PTW_JWT_CLAIM_NAME": "preferred_username",
    "PTW_JWT_CLAIM_ORG": "tid",
    "PTW_JWT_CLAIM_ORG_ADMIN": "https://ptw.example/org_admin",
    "PTW_JWT_CLAIM_PROJECTS": "https://ptw.example/projects",
}


def test_SEC_01_renamed_claims_are_read_and_our_names_are_ignored(
    database_url: str, key_files: dict[str, str], clock: ManualClock
) -> None:
    """SEC-01 "names configurable": the configured claims decide; a claim spelled with the default name where
    the deployment names it otherwise (here `projects`, `sub`) counts for nothing."""
    settings = ApiSettings.from_env(
        {"PTW_JWT_JWKS_FILE": key_files["jwks"], **RENAMED},
        database_url=database_url,
        rate_limits_enabled=False,
        openapi_ui=False,
    )
    with TestClient(create_app(settings)) as client:
        world = World.create(client.app.state.runtime.service, clock)
        member = world.people["req"]
        grant = {world.project_id: grant_of(member)}
        token = mint_token(
            settings, subject=member.person_id, name=member.name, projects=grant, signing_key=SIGNERS["RS256"]
        )
        payload = jwt.decode(token, options={"verify_signature": False})
        assert payload["oid"] == member.person_id and "sub" not in payload
        assert str(world.project_id) in payload["https://ptw.example/projects"] and "projects" not in payload
        assert read(client, world, token).status_code == 200

        base = claims(settings, world)
        projects, sub = base.pop("projects"), base.pop("sub")
        default_names = signed(base | {"oid": sub, "projects": projects}, SIGNERS["RS256"])
        assert read(client, world, default_names).status_code == 404, (
            "`projects` is not this deployment's claim"
        )
        no_oid = signed(base | {"sub": sub, "https://ptw.example/projects": projects}, SIGNERS["RS256"])
        assert_problem(read(client, world, no_oid), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"PTW_JWT_SECRET": SECRET, "PTW_JWT_ALGORITHMS": "none"}, "PTW_JWT_ALGORITHMS"),
        ({"PTW_JWT_SECRET": SECRET, "PTW_JWT_ALGORITHMS": "RS256"}, "PTW_JWT_ALGORITHMS"),
        ({"PTW_JWT_JWKS_FILE": "{jwks}", "PTW_JWT_ALGORITHMS": "RS256,HS256"}, "PTW_JWT_ALGORITHMS"),
        ({"PTW_JWT_JWKS_FILE": "{jwks}", "PTW_JWT_SECRET": SECRET}, "PTW_JWT_SECRET"),
        ({"PTW_JWT_JWKS_FILE": "{jwks}", "PTW_JWT_PUBLIC_KEY_FILE": "{pem}"}, "PTW_JWT_PUBLIC_KEY_FILE"),
        ({"PTW_JWT_JWKS_FILE": "{pem}"}, "PTW_JWT_JWKS_FILE"),
        ({"PTW_JWT_PUBLIC_KEY_FILE": "{jwks}"}, "PTW_JWT_PUBLIC_KEY_FILE"),
        ({"PTW_JWT_PUBLIC_KEY_FILE": "/no/such/key.pem"}, "PTW_JWT_PUBLIC_KEY_FILE"),
        ({"PTW_JWT_JWKS_URL": "ftp://idp.example/jwks"}, "PTW_JWT_JWKS_URL"),
        (
            {"PTW_JWT_SECRET": SECRET, "PTW_JWT_CLAIM_ORG": "oid", "PTW_JWT_CLAIM_SUB": "oid"},
            "PTW_JWT_CLAIM_",
        ),
        ({"PTW_JWT_SECRET": SECRET, "PTW_JWT_CLAIM_SUB": "exp"}, "PTW_JWT_CLAIM_SUB"),
        ({"PTW_JWT_SECRET": SECRET, "PTW_JWT_ALGORITHM": "RS256"}, "PTW_JWT_ALGORITHM "),
    ],
    ids=[
        "alg-none",
        "public-key-algorithm-with-a-secret",
        "hmac-with-public-keys",
        "secret-beside-public-keys",
        "two-key-sources",
        "jwks-file-not-a-key-set",
        "pem-file-not-a-pem",
        "pem-file-missing",
        "jwks-url-not-http",
        "two-claims-one-name",
        "registered-claim-name",
        "renamed-or-mistyped-setting",
    ],
)
def test_SEC_01_a_bad_key_or_claim_setting_is_refused_naming_it(
    key_files: dict[str, str], environ: dict[str, str], setting: str
) -> None:
    env = {name: value.format(**key_files) for name, value in environ.items()}
    with pytest.raises(ValueError, match=setting):
        ApiSettings.from_env(env, database_url="memory://")


def test_SEC_01_serve_refuses_a_bad_key_setting_with_a_usage_error(
    key_files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTW_JWT_JWKS_FILE", key_files["jwks"])
    monkeypatch.setenv("PTW_JWT_ALGORITHMS", "HS256")
    result = CliRunner().invoke(cli, ["--database-url", "memory://", "serve", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "PTW_JWT_ALGORITHMS" in result.output and "Traceback" not in result.output


def test_SEC_01_ptw_token_signs_with_a_private_key_for_public_key_verification(
    tmp_path: Path, key_files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private.pem"
    private.write_bytes(
        EC_KEY.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv("PTW_JWT_JWKS_FILE", key_files["jwks"])
    project = str(uuid.uuid4())
    runner = CliRunner()
    refused = runner.invoke(cli, ["--database-url", "memory://", "token", "--project", project])
    assert refused.exit_code == 2 and "--private-key" in refused.output, refused.output
    made = runner.invoke(
        cli,
        [
            "--database-url",
            "memory://",
            "token",
            "--project",
            project,
            "--private-key",
            str(private),
            "--kid",
            "ec-1",
        ],
    )
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    settings = ApiSettings.from_env({"PTW_JWT_JWKS_FILE": key_files["jwks"]})
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "typ": "JWT", "kid": "ec-1"}
    payload = jwt.decode(
        token,
        public_pem(EC_KEY),
        algorithms=["ES256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    assert payload["projects"] == {
        project: {
            "roles": ["requestor"],
            "authority_level": 1,
            "company_id": "",
            "company_kind": "contractor",
        }
    }
    assert datetime.fromtimestamp(payload["exp"], UTC) - datetime.now(UTC) > timedelta(hours=7)


def test_SEC_01_a_verified_token_is_kept_by_its_exact_text_so_an_altered_copy_is_still_refused(
    client: TestClient[Any], site: World, api_settings: ApiSettings
) -> None:
    token = signed(claims(api_settings, site), SIGNERS["RS256"])
    assert read(client, site, token).status_code == 200
    assert read(client, site, token).status_code == 200  # the second time from the verified tokens
    header, body, signature = token.split(".")
    altered = f"{header}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert_problem(read(client, site, altered), 401, "unauthenticated")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["projects"][str(site.project_id)]["roles"] = ["issuer"]  # a claim changed, signature kept
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert_problem(read(client, site, f"{header}.{forged}.{signature}"), 401, "unauthenticated")


def test_SEC_01_a_kept_token_expires_with_its_exp_and_the_leeway_and_after_a_minute_at_most() -> None:
    tokens = VerifiedTokens[str](kept_seconds=60, capacity=2)
    tokens.keep("t", "ada", 1_000, now=900)
    assert tokens.get("t", 60, now=959) == "ada"
    assert tokens.get("t", 60, now=960) is None  # kept a minute at most: verified again
    tokens.keep("t", "ada", 1_000, now=990)
    assert tokens.get("t", 5, now=1_004) == "ada"  # exp 1000 + leeway 5
    assert tokens.get("t", 5, now=1_005) is None
    tokens.keep("no-exp", "ada", None, now=0)
    assert tokens.get("no-exp", 60, now=0) is None
    for name in ("x", "y", "z"):
        tokens.keep(name, "ada", 1_000, now=900)
    assert tokens.get("x", 60, now=901) is None  # the oldest gave way to the capacity
    assert tokens.get("z", 60, now=901) == "ada"
