"""`ptw`: the command-line door to the PermitService (demo data, permit history and time travel, audit).

Domain refusals are printed as `code [rule ids]: message` on stderr with exit code 1, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ptw_api import demo as demo_data
from ptw_api.projections_cli import projections_group
from ptw_api.serve_cli import project_group, serve, token
from ptw_domain.clock import Clock, ManualClock
from ptw_domain.errors import DomainError
from ptw_domain.permit.signature_status import SignatureView
from ptw_domain.permit.state import PermitState
from ptw_domain.service import PermitService
from ptw_domain.store.settings import DEFAULT_URL

ENV_URL = "PTW_DATABASE_URL"


def _console() -> Console:
    return Console(soft_wrap=False, width=max(Console().width, 140))


def _err_console() -> Console:
    return Console(stderr=True, soft_wrap=True)


class _Group(click.Group):
    """A group that turns domain refusals into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as error:
            err = _err_console()
            err.print(str(error), markup=False, highlight=False)
            for blocker in error.blockers:
                err.print(
                    f"  - {blocker.rule} {blocker.code}: {blocker.message}", markup=False, highlight=False
                )
            raise click.exceptions.Exit(1) from None


@contextmanager
def _service(ctx: click.Context, clock: Clock | None = None) -> Iterator[PermitService]:
    url: str = ctx.obj["database_url"]
    try:
        service = PermitService(url, clock=clock)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--database-url") from None
    try:
        yield service
    finally:
        service.close()


def _project_code(number: str, given: str | None) -> str:
    """The --project-code, else the number's prefix (text before the first '-'), else DEMO."""
    if given:
        return given
    prefix = number.split("-", 1)[0]
    return prefix if prefix and "-" in number else demo_data.DEFAULT_CODE


def _fmt(instant: datetime | None) -> str:
    return instant.isoformat(timespec="seconds") if instant else "—"


def _instant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """RFC 3339: an instant must carry its offset (Z or ±hh:mm)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 instant") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise click.BadParameter(f"{value!r} has no offset: give one, e.g. {value}Z or {value}+01:00")
    return parsed


@click.group(cls=_Group)
@click.option(
    "--database-url",
    envvar=ENV_URL,
    default=DEFAULT_URL,
    show_default=True,
    help=f"Event store URL (memory://, sqlite:///path, postgresql://...); env {ENV_URL}.",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str) -> None:
    """Permit-to-Work engine."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url


# --- demo -------------------------------------------------------------------------------------------------


def _permits_table(service: PermitService, permit_ids: list[UUID], title: str) -> Table:
    table = Table(title=title)
    for column in ("Number", "Title", "Category", "Status", "Risk", "Valid until"):
        table.add_column(column, no_wrap=column != "Title")
    for pid in permit_ids:
        state = service.permit(pid)
        table.add_row(
            state.number,
            state.content.title,
            state.category,
            state.status.value,
            f"{state.risk_level} ({state.risk_score})",
            _fmt(state.valid_until),
        )
    return table


@cli.command()
@click.option("--project-code", default=demo_data.DEFAULT_CODE, show_default=True, help="Demo project code.")
@click.pass_context
def demo(ctx: click.Context, project_code: str) -> None:
    """Load a realistic sample project with permits along every lifecycle path."""
    console = _console()
    clock = ManualClock(demo_data.demo_start())
    with _service(ctx, clock) as service:
        if demo_data.is_loaded(service, project_code):
            console.print(f"The demo project {project_code} is already loaded.", markup=False)
            return
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task(f"Loading {project_code}", total=demo_data.STEPS)

            def step(label: str) -> None:
                bar.update(task, advance=1, description=f"Loading {project_code}: {label}")

            permit_ids = demo_data.load_demo(service, clock, project_code, step=step)
            bar.update(task, completed=demo_data.STEPS, description=f"Loaded {project_code}")
        console.print(_permits_table(service, permit_ids, f"Permits of {project_code}"))


# --- permit -----------------------------------------------------------------------------------------------


@cli.group()
def permit() -> None:
    """Read permits: history and state at a past instant or version."""


@permit.command()
@click.argument("number")
@click.option("--project-code", default=None, help="Project code (default: the number's prefix).")
@click.pass_context
def history(ctx: click.Context, number: str, project_code: str | None) -> None:
    """Every event of a permit, in order."""
    code = _project_code(number, project_code)
    with _service(ctx) as service:
        pid = service.permit_by_number(demo_data.project_id_for(code), number)
        table = Table(title=f"History of {number}")
        for column in ("Version", "Occurred at", "Type", "Actor", "On behalf of", "Hash"):
            table.add_column(column, no_wrap=True)
        for recorded in service.history(pid):
            meta = recorded.metadata
            table.add_row(
                str(recorded.version),
                _fmt(recorded.occurred_at),
                recorded.type,
                meta.actor.id,
                meta.on_behalf_of or "",
                recorded.hash[:12],
            )
        _console().print(table)


def _permit_table(state: PermitState, heading: str) -> Table:
    table = Table(title=heading, show_header=False)
    table.add_column("Field", style="bold", no_wrap=True)
    table.add_column("Value")
    content = state.content
    rows = (
        ("Number", state.number),
        ("Status", state.status.value),
        ("Version", str(state.version)),
        ("Cycle", str(state.cycle)),
        ("Title", content.title),
        ("Category", state.category),
        ("Description", content.description),
        ("Area", content.area),
        ("Location", content.location),
        ("Planned window", f"{_fmt(content.planned_start)} → {_fmt(content.planned_end)}"),
        ("Valid until", _fmt(state.valid_until)),
        (
            "Risk",
            f"score {state.risk_score}, level {state.risk_level}, effective {state.effective_risk_level}",
        ),
        ("Requestor", state.requestor),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table


def _signatures_table(views: list[SignatureView]) -> Table:
    """SIG-11 status and SIG-13 time (to the second, project time with offset) of each signature."""
    table = Table(title="Signatures")
    for column in (
        "Point",
        "Signer",
        "On behalf of",
        "Signed at (project time)",
        "Version",
        "Cycle",
        "Status",
    ):
        table.add_column(column, no_wrap=True)
    for view in views:
        sig = view.signature
        status = view.status.value
        if view.invalidated_by_version is not None:
            status += f" (v{view.invalidated_by_version}: {view.invalidation_reason or ''})"
        table.add_row(
            sig.point.value,
            sig.signer,
            sig.on_behalf_of or "",
            view.signed_at_local,
            str(sig.permit_version),
            str(sig.cycle),
            status,
        )
    return table


@permit.command()
@click.argument("number")
@click.option("--at", "at", callback=_instant, default=None, help="RFC 3339 instant with offset.")
@click.option("--version", "version", type=click.IntRange(min=1), default=None, help="Permit version.")
@click.option("--project-code", default=None, help="Project code (default: the number's prefix).")
@click.pass_context
def show(
    ctx: click.Context, number: str, at: datetime | None, version: int | None, project_code: str | None
) -> None:
    """The permit as it was at an instant or version (default: now)."""
    if at is not None and version is not None:
        raise click.UsageError("give --at or --version, not both")
    code = _project_code(number, project_code)
    with _service(ctx) as service:
        pid = service.permit_by_number(demo_data.project_id_for(code), number)
        if version is not None:
            state = service.permit_at_version(pid, version)
            heading = f"{number} at version {version}"
        elif at is not None:
            state = service.permit_at(pid, at)
            heading = f"{number} at {_fmt(at)}"
        else:
            state = service.permit(pid)
            heading = f"{number} now"
        console = _console()
        console.print(_permit_table(state, heading))
        console.print(_signatures_table(service.signatures(pid, version=state.version)))


# --- audit ------------------------------------------------------------------------------------------------


@cli.group()
def audit() -> None:
    """Audit the event store."""


@audit.command()
@click.option("--permit", "number", default=None, help="Verify only this permit's stream.")
@click.option("--project-code", default=None, help="Project code (default: the number's prefix).")
@click.pass_context
def verify(ctx: click.Context, number: str | None, project_code: str | None) -> None:
    """Recompute the hash chains (AUD-04); exit 1 naming every broken stream."""
    with _service(ctx) as service:
        if number is not None:
            pid = service.permit_by_number(
                demo_data.project_id_for(_project_code(number, project_code)), number
            )
            verdicts = service.verify_chain(service.permit_streams(pid))  # the permit and its isolations
        else:
            verdicts = service.verify_chain()
    broken = [v for v in verdicts if not v.ok]
    summary = Table(title="Hash chain verification" + (f" of {number}" if number else ""))
    for column in ("Streams", "Events", "Intact", "Broken"):
        summary.add_column(column, justify="right")
    summary.add_row(
        str(len(verdicts)),
        str(sum(v.events for v in verdicts)),
        str(len(verdicts) - len(broken)),
        str(len(broken)),
    )
    console = _console()
    console.print(summary)
    if not broken:
        console.print("intact", markup=False)
        return
    for verdict in broken:
        link = verdict.broken
        assert link is not None
        console.print(
            f"BROKEN stream {link.stream_id} version {link.version} {link.kind.value}: "
            f"expected {link.expected} stored {link.stored}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"broken: {len(broken)} stream(s)", markup=False)
    ctx.exit(1)


cli.add_command(projections_group, name="projections")
cli.add_command(serve)
cli.add_command(token)
cli.add_command(project_group)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ptw")


if __name__ == "__main__":
    main()
