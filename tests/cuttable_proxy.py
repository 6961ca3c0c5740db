"""A TCP proxy in front of a real server that a test can cut and restore: every open connection is dropped and
new ones are refused, as when PostgreSQL restarts or a network path fails, then the same port serves again."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class CuttableProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._opened = (
            0  # how many times the port was opened: a connection accepted before a cut must not live
        )
        self.restore()

    def restore(self) -> None:
        """Listen (again, on the same port) and forward every connection to the target."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
            self._opened += 1
            opened = self._opened
        threading.Thread(target=self._accept, args=(listener, opened), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._opened += 1
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for end in pair:
                _close(end)

    def _accept(self, listener: socket.socket, opened: int) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.target)
            with self._lock:
                if opened != self._opened:  # cut while this one was being accepted
                    _close(client)
                    _close(server)
                    return
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    @staticmethod
    def _pump(client: socket.socket, server: socket.socket) -> None:
        ends = [client, server]
        try:
            while True:
                readable, _, _ = select.select(ends, [], [])
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (server if end is client else client).sendall(data)
        except (OSError, ValueError):  # ValueError: select on a socket closed by cut()
            for end in ends:
                _close(end)


def proxied(url: str) -> tuple[str, CuttableProxy]:
    """A PostgreSQL store URL reached through a new proxy, connections waited for 1 s at most (the store's pool
    and the read side's connects), so that a test of an outage waits seconds, not minutes."""
    parts = urlsplit(url)
    proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
    query = f"{parts.query}&connect_timeout=1" if parts.query else "connect_timeout=1"
    return urlunsplit(parts._replace(netloc=netloc, query=query)), proxy


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    end.close()
