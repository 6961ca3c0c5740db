"""The long-lived objects of a serving process, made in the app's lifespan: the PermitService, the read side
(with its followers in-process for the embedded default) and each caller's last write position (RM-08)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

from litestar import Request

from ptw_api.http.settings import ApiSettings
from ptw_domain.clock import Clock
from ptw_domain.errors import NotFound, ValidationFailed
from ptw_domain.service import PermitService
from ptw_domain.store.group_commit import GroupCommit
from ptw_domain.store.postgres import AppendFunctionRecorder
from ptw_projections.database import open_read_database
from ptw_projections.embedded import ReadModels
from ptw_projections.reader import ReadSide

REMEMBERED_CALLERS = 10_000


class Runtime:
    def __init__(self, settings: ApiSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        # several workers (processes) write one store: keep each one's cache current (ADR 0006)
        self.service = PermitService(settings.database_url, clock=clock, watch_other_writers=True)
        # PostgreSQL: commands decided in the event loop are appended together (ADR 0017)
        recorder = self.service.store.recorder
        self.group = GroupCommit(recorder) if isinstance(recorder, AppendFunctionRecorder) else None
        self.read_models: ReadModels | None = None
        if settings.run_projections:
            self.read_models = ReadModels(self.service.store, settings.database_url).start()
            self.reads = self.read_models.reads
        else:
            self.reads = ReadSide(open_read_database(settings.database_url))
        self._positions: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        if self.read_models is not None:
            self.read_models.close()
        else:
            self.reads.db.dispose()
        self.service.close()

    def remember(self, subject: str, position: int | None) -> None:
        """The caller's last write, so that their next read in this process reflects it (RM-08)."""
        if position is None:
            return
        with self._lock:
            self._positions[subject] = max(position, self._positions.pop(subject, 0))
            while len(self._positions) > REMEMBERED_CALLERS:
                self._positions.popitem(last=False)

    def must_wait(self, subject: str, asked: int | None) -> bool:
        """Whether `wait_for_caller` has anything to check: a position named, or a write of the caller's here."""
        if asked:
            return True
        with self._lock:
            return subject in self._positions

    def wait_for_caller(self, subject: str, asked: int | None, projections: list[str]) -> int:
        """Wait until the projections have passed the caller's last write here, or the position the client
        names (`X-PTW-Min-Position`, for clients served by several processes); returns that position (0: none).
        A position past the store's head was never returned by a command: refused at once rather than waited
        for and answered 503."""
        if asked and asked > self.head():
            raise ValidationFailed(
                "X-PTW-Min-Position is past the store's last position",
                rule_ids=("RM-08", "SEC-12"),
                facts={"field": "X-PTW-Min-Position"},
            )
        with self._lock:
            position = max(self._positions.get(subject, 0), asked or 0)
        if position:
            self.reads.wait_for(position, projections, timeout=self.settings.read_wait_seconds)
        return position

    def organisation_of(self, principal: Any) -> UUID:
        """The caller's organisation (the `org` claim) for organisation settings."""
        if principal.org is None:
            raise NotFound("no such organisation", facts={"field": "org"})
        return principal.org  # type: ignore[no-any-return]

    def head(self) -> int:
        return self.service.store.recorder.max_notification_id() or 0


def correlation_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("correlation_id", ""))
