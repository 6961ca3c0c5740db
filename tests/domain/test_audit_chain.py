# ruff: noqa: N802
"""Audit AUD-01..04: metadata on every event, the per-stream hash chain, append-only storage and tamper detection
on the stored rows of SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.canonical import canonical_json
from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from tests.builders import START, World, approve

GENESIS = "0" * 64


# --- AUD-01 / AUD-03 on every backend --------------------------------------------------------------------------


def test_AUD_01_every_event_carries_its_metadata(world: World) -> None:
    pid = world.under_review()
    world.run(
        approve(
            world,
            pid,
            context=c.CommandContext(
                correlation_id="corr-1",
                causation_id="cause-1",
                client_app="ptw-web",
                client_version="1.2.3",
                device_id="dev-9",
                client_command_id="cmd-1",
            ),
        )
    )
    history = world.service.history(pid)
    for event in history:
        assert event.stream_id == pid
        assert isinstance(event.event_id, uuid.UUID)
        assert event.occurred_at.tzinfo is not None
        assert event.schema_version >= 1
        assert event.metadata.stream_type == "permit"
        assert event.metadata.project_id == world.project_id
        assert event.metadata.organisation_id == world.organisation_id
        assert event.metadata.actor.id
        assert event.metadata.actor.kind == "user"
        assert len(event.hash) == 64
    approved = history[-1]
    assert approved.type == "PermitApproved"
    meta = approved.metadata
    assert meta.actor.id == "app"
    assert meta.actor.roles == ("approver",)
    assert meta.actor.authority_level == 3
    assert meta.actor.company_kind == "owner"
    assert (meta.correlation_id, meta.causation_id) == ("corr-1", "cause-1")
    assert (meta.client_app, meta.client_version, meta.device_id) == ("ptw-web", "1.2.3", "dev-9")
    assert meta.client_command_id == "cmd-1"
    assert meta.on_behalf_of is None and meta.delegation_id is None


def test_AUD_03_prev_hash_links_and_genesis(world: World) -> None:
    pid = world.closed()
    history = world.service.history(pid)
    assert history[0].prev_hash == GENESIS
    for previous, event in itertools.pairwise(history):
        assert event.prev_hash == previous.hash
    assert len({e.hash for e in history}) == len(history)


def test_AUD_03_hash_is_sha256_of_the_canonical_body(world: World) -> None:
    pid = world.draft()
    event = world.service.history(pid)[0]
    body = {
        "stream_id": event.stream_id,
        "version": event.version,
        "event_id": event.event_id,
        "type": event.type,
        "schema_version": event.schema_version,
        "occurred_at": event.occurred_at,
        "metadata": event.metadata,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
    }
    assert hashlib.sha256(canonical_json(body)).hexdigest() == event.hash


def test_AUD_04_untouched_store_verifies_ok(world: World) -> None:
    pid = world.closed()
    verdicts = world.service.verify_chain()
    assert verdicts and all(v.ok for v in verdicts)
    [mine] = world.service.verify_chain([pid])
    assert mine.events == mine.head_version == len(world.service.history(pid))
    assert mine.head_hash == world.service.history(pid)[-1].hash


# --- tampering: SQLite and PostgreSQL --------------------------------------------------------------------------


class Backend:
    """Raw SQL access to the events table of one backend, as an attacker with database access would have."""

    def __init__(self, kind: str, url: str, schema: str | None = None) -> None:
        self.kind, self.url, self.schema = kind, url, schema

    def _sqlite(self) -> sqlite3.Connection:
        return sqlite3.connect(self.url.removeprefix("sqlite:///"))

    def execute(self, sql: str, *params: Any) -> None:
        if self.kind == "sqlite":
            conn = self._sqlite()
            try:
                conn.execute(sql, params)
                conn.commit()
            finally:
                conn.close()
        else:
            import psycopg

            with psycopg.connect(self.url.split("?")[0], autocommit=True) as conn:
                conn.execute(sql.replace("?", "%s"), params)

    @property
    def table(self) -> str:
        return "stored_events" if self.kind == "sqlite" else f'"{self.schema}".ptw_events'

    def rows(self, stream_id: uuid.UUID) -> list[tuple[int, bytes]]:
        sid = stream_id.hex if self.kind == "sqlite" else stream_id
        sql = f"SELECT originator_version, state FROM {self.table} WHERE originator_id = ? ORDER BY originator_version"
        if self.kind == "sqlite":
            conn = self._sqlite()
            try:
                return [(v, bytes(s)) for v, s in conn.execute(sql, (sid,)).fetchall()]
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url.split("?")[0], autocommit=True) as conn:
            return [(v, bytes(s)) for v, s in conn.execute(sql.replace("?", "%s"), (sid,)).fetchall()]

    def disable_guard(self) -> None:
        if self.kind == "sqlite":
            self.execute("DROP TRIGGER stored_events_no_update")
            self.execute("DROP TRIGGER stored_events_no_delete")
        else:
            self.execute(f"ALTER TABLE {self.table} DISABLE TRIGGER ptw_events_append_only")

    def set_state(self, stream_id: uuid.UUID, version: int, state: bytes) -> None:
        sid = stream_id.hex if self.kind == "sqlite" else stream_id
        self.execute(
            f"UPDATE {self.table} SET state = ? WHERE originator_id = ? AND originator_version = ?",
            state,
            sid,
            version,
        )

    def delete(self, stream_id: uuid.UUID, version: int) -> None:
        sid = stream_id.hex if self.kind == "sqlite" else stream_id
        self.execute(
            f"DELETE FROM {self.table} WHERE originator_id = ? AND originator_version = ?", sid, version
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'ptw.db'}")
    url = str(request.getfixturevalue("postgres_url"))
    return Backend("postgres", url, schema=url.split("schema=")[1])


@pytest.fixture
def stored(backend: Backend) -> Iterator[tuple[Backend, World, uuid.UUID]]:
    svc = PermitService(backend.url, clock=ManualClock(START))
    world = World.create(svc, svc.clock)  # type: ignore[arg-type]
    pid = world.under_review()
    yield backend, world, pid
    svc.close()


def fresh_verdict(backend: Backend, pid: uuid.UUID) -> Any:
    """Verify through a new service so no cache hides the stored bytes."""
    svc = PermitService(backend.url, clock=ManualClock(START))
    try:
        [verdict] = svc.verify_chain([pid])
        return verdict
    finally:
        svc.close()


def test_AUD_02_plain_update_and_delete_are_refused(stored: tuple[Backend, World, uuid.UUID]) -> None:
    backend, _world, pid = stored
    version, state = backend.rows(pid)[1]
    with pytest.raises(Exception, match="append-only"):
        backend.set_state(pid, version, state.replace(b"Weld", b"Wald"))
    with pytest.raises(Exception, match="append-only"):
        backend.delete(pid, version)
    assert backend.rows(pid)[1] == (version, state)
    assert fresh_verdict(backend, pid).ok


def test_AUD_04_content_altered_is_detected(stored: tuple[Backend, World, uuid.UUID]) -> None:
    backend, _world, pid = stored
    backend.disable_guard()
    version, state = backend.rows(pid)[0]
    assert b"Weld a bracket" in state
    backend.set_state(pid, version, state.replace(b"Weld a bracket", b"Weld a brackeT"))
    verdict = fresh_verdict(backend, pid)
    assert not verdict.ok
    assert verdict.broken.kind == "content_altered"
    assert verdict.broken.stream_id == pid
    assert verdict.broken.version == 1


def test_AUD_04_link_broken_is_detected(stored: tuple[Backend, World, uuid.UUID]) -> None:
    backend, _world, pid = stored
    backend.disable_guard()
    rows = backend.rows(pid)
    version, state = rows[2]
    body = json.loads(state)
    body["prev_hash"] = "f" * 64
    unhashed = {k: v for k, v in body.items() if k != "hash"}
    body["hash"] = hashlib.sha256(canonical_json(unhashed)).hexdigest()
    backend.set_state(pid, version, canonical_json(body))
    verdict = fresh_verdict(backend, pid)
    assert not verdict.ok
    assert verdict.broken.kind == "link_broken"
    assert verdict.broken.stream_id == pid
    assert verdict.broken.version == version
    assert verdict.broken.stored == "f" * 64
    assert verdict.broken.expected == json.loads(rows[1][1])["hash"]


def test_AUD_04_version_gap_is_detected(stored: tuple[Backend, World, uuid.UUID]) -> None:
    backend, _world, pid = stored
    backend.disable_guard()
    rows = backend.rows(pid)
    assert len(rows) >= 3
    middle = rows[1][0]
    backend.delete(pid, middle)
    verdict = fresh_verdict(backend, pid)
    assert not verdict.ok
    assert verdict.broken.kind == "version_gap"
    assert verdict.broken.stream_id == pid
    assert verdict.broken.version == middle + 1
    assert verdict.broken.expected == str(middle)


def test_AUD_04_other_streams_still_verify_after_tamper(stored: tuple[Backend, World, uuid.UUID]) -> None:
    backend, world, pid = stored
    other = world.draft()
    backend.disable_guard()
    version, state = backend.rows(pid)[0]
    backend.set_state(pid, version, state.replace(b"Weld a bracket", b"Weld a brackeT"))
    svc = PermitService(backend.url, clock=ManualClock(START))
    try:
        verdicts = {v.stream_id: v for v in svc.verify_chain()}
    finally:
        svc.close()
    assert not verdicts[pid].ok
    assert verdicts[other].ok
