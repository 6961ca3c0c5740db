"""`ptw serve` (the API, with the projection followers in-process on the embedded default) and `ptw token`
(a development token, so a newcomer can call the API within minutes)."""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from datetime import timedelta
from uuid import UUID

import click
import uvicorn
from uvicorn.supervisors import Multiprocess

from ptw_api import demo as demo_data
from ptw_api.http.auth import ProjectGrant, mint_token
from ptw_api.http.keys import SigningKey
from ptw_api.http.permissions import READ_SCOPE, WRITE_SCOPE
from ptw_api.http.settings import ApiSettings
from ptw_domain.roles import ActorKind, CompanyKind, Role
from ptw_domain.service import PermitService


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="API processes (uvicorn workers).")
@click.option(
    "--projections/--no-projections",
    "run_projections",
    default=None,
    help="Run the projection followers in this process (default, env PTW_RUN_PROJECTIONS); production runs "
    "`ptw projections run` processes instead.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, run_projections: bool | None) -> None:
    """Serve the HTTP API (OpenAPI at /schema)."""
    os.environ["PTW_DATABASE_URL"] = ctx.obj["database_url"]
    if run_projections is not None:
        os.environ["PTW_RUN_PROJECTIONS"] = "true" if run_projections else "false"
    try:
        settings = ApiSettings.from_env()  # also makes the development signing key before the workers start
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if workers > 1 and settings.run_projections:
        raise click.UsageError(
            "several workers need --no-projections and `ptw projections run` processes (one runner per projection)"
        )
    if settings.database_url.startswith("memory://") and workers > 1:
        raise click.UsageError("an in-memory store cannot be shared by several workers")
    click.echo(f"ptw API on http://{host}:{port}/api/v1 — OpenAPI at http://{host}:{port}/schema", err=True)
    app = "ptw_api.http.app:create_app"
    if workers == 1:  # asyncio binds the socket itself, as TCP
        uvicorn.run(app, factory=True, host=host, port=port, log_level="info")
        return
    serve_workers(ServeConfig(app, factory=True, host=host, port=port, workers=workers, log_level="info"))


def serve_workers(config: ServeConfig) -> None:
    """uvicorn's worker processes on one shared socket bound by `config` (until interrupted)."""
    with suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[config.bind_socket()]).run()


class ServeConfig(uvicorn.Config):
    """uvicorn's settings, with the socket its workers share bound as a TCP socket. uvicorn binds it with
    protocol 0 (uvicorn issue 3149); asyncio turns Nagle's algorithm off only on accepted sockets whose protocol
    reads TCP, so every keep-alive request after a connection's first waited ~40 ms for the client's delayed
    ACK before the end of its answer went out. One worker binds through asyncio and was never affected."""

    def bind_socket(self) -> socket.socket:
        bound = super().bind_socket()
        if bound.family not in (socket.AF_INET, socket.AF_INET6):
            return bound
        return socket.socket(fileno=bound.detach())  # family, type and protocol read from the descriptor


@click.command()
@click.option("--project", "project", required=True, help="Project code (e.g. DEMO) or id.")
@click.option("--as", "person", default=None, help="A demo person (e.g. r.ibrahim): their roles and level.")
@click.option("--sub", default=None, help="Subject (person id); default the --as person or 'dev'.")
@click.option("--roles", default="", help="Comma list of roles, e.g. requestor,verifier.")
@click.option("--level", "authority_level", default=None, type=click.IntRange(1, 3), help="Authority level.")
@click.option(
    "--company-kind", default=None, type=click.Choice([k.value for k in CompanyKind]), help="Company kind."
)
@click.option("--org-admin", is_flag=True, help="Grant the org_admin claim.")
@click.option("--integration", is_flag=True, help="A service principal (SEC-02).")
@click.option("--hours", default=8, show_default=True, type=int, help="Lifetime.")
@click.option(
    "--private-key",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Sign with this PEM private key (RS256, ES256 or EdDSA by its type) for an API checking public keys.",
)
@click.option("--kid", default=None, help="The key id (`kid`) to name in the token's header.")
@click.pass_context
def token(
    ctx: click.Context,
    project: str,
    person: str | None,
    sub: str | None,
    roles: str,
    authority_level: int | None,
    company_kind: str | None,
    org_admin: bool,
    integration: bool,
    hours: int,
    private_key: str | None,
    kid: str | None,
) -> None:
    """Print a development bearer token signed with this machine's key (PTW_JWT_SECRET or .ptw/), or with
    --private-key."""
    try:
        settings = ApiSettings.from_env(database_url=ctx.obj["database_url"])
        signing_key = SigningKey.from_pem(private_key, kid) if private_key else None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    project_id, organisation_id = _project(settings.database_url, project)
    member = None
    if person is not None:
        member = next((m for m in demo_data.PEOPLE.values() if m.person_id == person), None)
        if member is None:
            known = ", ".join(sorted(m.person_id for m in demo_data.PEOPLE.values()))
            raise click.BadParameter(f"no demo person {person!r}; known: {known}", param_hint="--as")
    try:
        chosen = frozenset(Role(r.strip()) for r in roles.split(",") if r.strip())
    except ValueError as error:
        raise click.BadParameter(
            f"{error}; roles: {', '.join(r.value for r in Role)}", param_hint="--roles"
        ) from None
    grant = ProjectGrant(
        roles=chosen or (member.roles if member else frozenset({Role.REQUESTOR})),
        authority_level=authority_level or (member.authority_level if member else 1),
        company_kind=CompanyKind(company_kind)
        if company_kind
        else (member.company_kind if member else CompanyKind.CONTRACTOR),
    )
    try:
        signed = mint_token(
            settings,
            subject=sub or (member.person_id if member else "dev"),
            name=member.name if member else "",
            projects={project_id: grant},
            organisation=organisation_id,
            org_admin=org_admin,
            kind=ActorKind.SERVICE if integration else ActorKind.USER,
            scopes=(READ_SCOPE, WRITE_SCOPE) if integration else (),
            lifetime=timedelta(hours=hours),
            signing_key=signing_key,
        )
    except ValueError as error:
        raise click.UsageError(f"{error} (--private-key)") from None
    click.echo(signed)


@click.group(name="project")
def project_group() -> None:
    """Look up projects in the store."""


@project_group.command(name="id")
@click.argument("code")
@click.pass_context
def project_id(ctx: click.Context, code: str) -> None:
    """Print the id of the project with this code: the {project_id} of the API's paths."""
    click.echo(_project(ctx.obj["database_url"], code, hint="CODE")[0])


def _project(database_url: str, given: str, hint: str = "--project") -> tuple[UUID, UUID | None]:
    """A project by id or code, with its organisation (for organisation settings)."""
    service = PermitService(database_url)
    try:
        try:
            wanted: UUID | None = UUID(given)
        except ValueError:
            wanted = None
        for stream_id in service.store.stream_ids(topics=["ProjectOpened"]):
            state = service.project(stream_id)
            if stream_id == wanted or state.code == given:
                return stream_id, state.organisation_id
    finally:
        service.close()
    if wanted is not None:
        return wanted, None  # a project not opened yet (e.g. one the token's holder will open)
    raise click.BadParameter(
        f"no project with code {given!r} in the store; load the demo (`ptw demo`) or give a project id",
        param_hint=hint,
    )
