"""`ptw projections status | run | rebuild | verify`: operating the read side from the command line."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ptw_domain.store.application import PtwStore
from ptw_domain.store.settings import store_env
from ptw_projections.database import open_read_database
from ptw_projections.locks import ProjectionBusy
from ptw_projections.registry import PROJECTIONS, projections
from ptw_projections.runner import ProjectionFailed, Runner, follow_through_outages
from ptw_projections.verify import verify as verify_projection


@contextmanager
def _runners(ctx: click.Context, names: tuple[str, ...]) -> Iterator[list[Runner]]:
    url: str = ctx.obj["database_url"]
    try:
        chosen = projections(list(names) or None)
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="NAMES") from None
    store = PtwStore(env=store_env(url))
    db = open_read_database(url, followers=len(chosen))
    try:
        yield [Runner(store, db, p) for p in chosen]
    finally:
        db.dispose()
        store.close()


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@click.group()
def projections_group() -> None:
    """Operate the read models (projections of the events)."""


@projections_group.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Position, head, lag and last error of every projection generation."""
    with _runners(ctx, ()) as runners:
        head = runners[0].head()
        table = Table(title=f"projections (store head {head})")
        for column in ("projection", "generation", "stage", "version", "position", "lag", "last error"):
            table.add_column(column)
        failed = False
        for runner in runners:
            with runner.db.engine.connect() as conn:
                generations = runner.catalogue.generations(conn, runner.projection.name)
            if not generations:
                table.add_row(
                    runner.projection.name,
                    "—",
                    "not built",
                    str(runner.projection.version),
                    "0",
                    str(head),
                    "",
                )
            for g in generations:
                stale = (
                    ""
                    if g.version == runner.projection.version
                    else f" (code is v{runner.projection.version})"
                )
                error = f"at {g.error_position}: {g.error}" if g.error else ""
                failed = failed or bool(g.error)
                table.add_row(
                    g.name,
                    str(g.generation),
                    g.stage.value,
                    f"{g.version}{stale}",
                    str(g.position),
                    str(max(head - g.position, 0)),
                    error,
                )
        Console(width=160).print(table)
        if failed:
            ctx.exit(1)


@projections_group.command()
@click.argument("names", nargs=-1)
@click.option("--until-caught-up", is_flag=True, help="Stop once every projection has reached the head.")
@click.pass_context
def run(ctx: click.Context, names: tuple[str, ...], until_caught_up: bool) -> None:
    """Keep projections caught up (one runner per projection; stop with SIGTERM or Ctrl-C)."""
    with _runners(ctx, names) as runners:
        if until_caught_up:
            for runner in runners:
                _guarded(ctx, lambda r=runner: r.catch_up(r.live_generation()))
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        errors: list[BaseException] = []

        def follow(runner: Runner) -> None:
            try:
                follow_through_outages(runner, stop)
            except BaseException as error:
                errors.append(error)
                stop.set()

        threads = [threading.Thread(target=follow, args=(r,), daemon=True) for r in runners]
        for thread in threads:
            thread.start()
        while not stop.wait(0.5):
            pass
        for thread in threads:
            thread.join(timeout=10)
        for error in errors:
            _guarded(ctx, lambda e=error: _raise(e))


@projections_group.command()
@click.argument("names", nargs=-1)
@click.pass_context
def rebuild(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Build new generations beside the live ones and switch when they have caught up (blue/green)."""
    console = Console(stderr=True)
    with _runners(ctx, names) as runners, _progress(console) as bar:
        for runner in runners:
            task = bar.add_task(runner.projection.name, total=runner.head())

            def advance(position: int, head: int, task: Any = task) -> None:
                bar.update(task, completed=position, total=head)

            generation = _guarded(ctx, lambda r=runner, a=advance: r.rebuild(a))
            bar.update(task, completed=runner.catalogue.position_of(generation))
            click.echo(f"{runner.projection.name}: generation {generation.generation} is live")


@projections_group.command()
@click.argument("names", nargs=-1)
@click.pass_context
def verify(ctx: click.Context, names: tuple[str, ...]) -> None:
    """AUD-07: rebuild into scratch tables and compare with the live ones; exit 1 on any difference."""
    different = False
    with _runners(ctx, names) as runners:
        for runner in runners:
            result = _guarded(ctx, lambda r=runner: verify_projection(r))
            if result.ok:
                click.echo(f"{result.name}: ok ({result.rows_compared} rows at position {result.position})")
                continue
            different = True
            click.echo(
                f"{result.name}: {len(result.differences)} difference(s) at position {result.position}"
            )
            for d in result.differences:
                click.echo(f"  {d.table} {d.key}: {d.kind} {', '.join(d.columns)}")
    if different:
        ctx.exit(1)


def _raise(error: BaseException) -> None:
    raise error


def _guarded(ctx: click.Context, action: Any) -> Any:
    """Operational failures as one line and exit code 1 (2 for a busy projection), never a traceback."""
    try:
        return action()
    except ProjectionFailed as error:
        click.echo(f"error: {error}", err=True)
        ctx.exit(1)
    except ProjectionBusy as error:
        click.echo(f"error: {error}", err=True)
        ctx.exit(2)


__all__ = ["PROJECTIONS", "projections_group"]
