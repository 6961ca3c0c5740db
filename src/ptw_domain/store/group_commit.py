"""Group commit (ADR 0017): the appends of the commands one event loop decided at the same moment go to PostgreSQL
together, in one call of the append function — one round trip, one hold of the table lock and one commit for all
of them — and no thread stands between the request and the store.

Each command's events stay atomic: a batch is one transaction, and if any of its versions is already taken (a
command decided on a stale cache) nothing of it is kept and each command is appended again on its own, so only
the stale one is refused (IntegrityError, having recorded nothing) and the service decides it again on fresh
streams. Events of one batch get notification ids in the order given; the batches of one process follow each
other (one writer), and the table lock orders them with every other writer's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from psycopg_pool import AsyncConnectionPool

from ptw_domain.store.postgres import AppendFunctionRecorder

Waiting = tuple[Sequence[StoredEvent], "asyncio.Future[list[int]]"]


class GroupCommit:
    """Appends from one event loop, gathered while the previous batch is being written."""

    def __init__(self, recorder: AppendFunctionRecorder) -> None:
        self._sql = recorder.append_sql
        given = recorder.datastore.pool.kwargs
        assert isinstance(given, dict), "the library's pool is given its connection arguments as a dict"
        kwargs = {k: v for k, v in given.items() if k != "row_factory"}
        # one writer, one connection: a batch is written while the next one gathers
        self._pool = AsyncConnectionPool(
            kwargs={**kwargs, "autocommit": True}, min_size=1, max_size=1, open=False
        )
        self._waiting: list[Waiting] = []  # gathering for the next batch
        self._writing: list[Waiting] = []  # the batch being written
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._opened = False
        self._closed = False

    async def append(self, events: Sequence[StoredEvent]) -> list[int]:
        """Record one command's events, with whatever else waits; returns their notification ids. Raises
        IntegrityError, having recorded none of them, when one of their versions is already taken; another
        PersistenceError (OperationalError, InterfaceError, ...) when the store failed."""
        if self._closed:
            raise OperationalError("the group commit is closed")
        loop = asyncio.get_running_loop()
        if self._writer is None:
            self._writer = loop.create_task(self._write_batches())
        done: asyncio.Future[list[int]] = loop.create_future()
        self._waiting.append((events, done))
        self._wake.set()
        return await done

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        for _events, done in self._writing + self._waiting:
            _settle(done, error=OperationalError("the store was closed"))
        await self._pool.close()

    async def _write_batches(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._writing, self._waiting = self._waiting, []
            if self._writing:
                await self._write(self._writing)
            self._writing = []

    async def _write(self, batch: list[Waiting]) -> None:
        together = [e for events, _ in batch for e in events]
        distinct = len({(e.originator_id, e.originator_version) for e in together}) == len(together)
        if len(batch) > 1 and distinct:  # two commands on one version cannot both be kept: each on its own
            try:
                ids = await self._insert(together)
            except IntegrityError:
                pass  # a version already taken: find whose, below
            except Exception as error:  # the store failed them all alike
                for _events, done in batch:
                    _settle(done, error=error)
                return
            else:
                start = 0
                for events, done in batch:
                    _settle(done, ids[start : start + len(events)])
                    start += len(events)
                return
        for events, done in batch:
            try:
                _settle(done, await self._insert(events))
            except Exception as error:
                _settle(done, error=error)

    async def _insert(self, events: Sequence[StoredEvent]) -> list[int]:
        params = (
            [e.originator_id for e in events],
            [e.originator_version for e in events],
            [e.topic for e in events],
            [e.state for e in events],
        )
        try:
            if not self._opened:
                await self._pool.open(wait=True)
                self._opened = True
            async with self._pool.connection() as conn:
                cursor = await conn.execute(self._sql, params, prepare=True)
                return [int(row[0]) for row in await cursor.fetchall()]
        except psycopg.errors.UniqueViolation as error:
            raise IntegrityError(error) from error
        except psycopg.InterfaceError as error:  # as the library's recorders raise them
            raise InterfaceError(error) from error
        except psycopg.OperationalError as error:
            raise OperationalError(error) from error
        except psycopg.Error as error:  # any other failure of the statement: nothing of the batch was kept
            raise PersistenceError(error) from error


def _settle(done: asyncio.Future[list[int]], ids: Any = None, *, error: BaseException | None = None) -> None:
    """A request that went away (its future cancelled) leaves nothing to answer; what was written stays."""
    if done.done():
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(ids)
