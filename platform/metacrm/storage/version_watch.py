"""Knowing the live metadata version without a query per request (PostgreSQL LISTEN/NOTIFY).

Every process must notice a new metadata version. Asking the database (`SELECT
max(number)`) at the start of each request costs a connection check-out and a round trip —
on PostgreSQL a quarter of a simple GET. Instead, the transaction that records a version
also sends `NOTIFY metacrm_metadata` (delivered at its commit), and each process keeps one
connection LISTENing in a daemon thread: requests compare two integers in memory.

The watcher only ever *saves* queries: until it is listening, after its connection broke
and while it reconnects, `latest()` answers None and callers query as before. It starts
LISTENing before it reads the current number, so no version can slip between the two.
SQLite (one machine, no network round trip) keeps the plain query.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa

CHANNEL = "metacrm_metadata"
NOTIFY_WAIT_SECONDS = 1.0
"""How long one wait for notifications lasts before the thread checks whether to stop."""
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
LATEST_QUERY = "SELECT current_schema(), max(number) FROM metacrm_metadata_versions"

_log = logging.getLogger(__name__)


def announce_version(connection: sa.Connection, number: int) -> None:
    """Tell every watching process, at this transaction's commit, that `number` exists.

    Notifications reach the whole database; the payload `<schema>:<number>` lets watchers
    of other schemas (other installations, test schemas) ignore it."""
    if connection.dialect.name == "postgresql":
        payload = sa.func.current_schema().concat(f":{number}")
        connection.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))


def can_watch(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


class VersionWatcher:
    """A daemon thread that LISTENs for new metadata versions of one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._latest: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="metacrm-version-watch",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop listening at once; the thread closes its connection and ends within
        `NOTIFY_WAIT_SECONDS` (not waited for: closing an app must stay instant)."""
        self._stop.set()
        self._thread = None
        self._latest = None

    def latest(self) -> int | None:
        """The latest version number announced, or None while not listening."""
        return self._latest

    def _heard(self, number: int) -> None:
        with self._lock:
            if self._latest is not None and number > self._latest:
                self._latest = number

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:  # broken connection, database restart: query meanwhile
                self._latest = None
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                _log.debug("metadata version watch interrupted (%s); retrying in %s s",
                           exc, delay)
                self._stop.wait(delay)
        self._latest = None

    def _listen(self) -> None:
        raw = self._connect()
        try:
            raw.execute(f"LISTEN {CHANNEL}")
            # on this connection too, not the engine's pool: the thread may outlive the
            # engine's disposal by a moment and must not leave a pooled connection behind
            schema, number = raw.execute(LATEST_QUERY).fetchone()
            with self._lock:
                self._latest = int(number or 0)
            ours = f"{schema}:"
            while not self._stop.is_set():
                for notice in raw.notifies(timeout=NOTIFY_WAIT_SECONDS):
                    if not notice.payload.startswith(ours):
                        continue  # another schema's versions
                    digits = notice.payload[len(ours):]
                    if not digits.isdigit():  # not ours to interpret: query meanwhile
                        raise ValueError(f"unexpected payload {notice.payload[:80]!r}")
                    self._heard(int(digits))
        finally:
            self._latest = None
            raw.close()

    def _connect(self) -> Any:
        """A dedicated autocommit psycopg connection with the engine's own settings."""
        dialect = self._engine.dialect
        cargs, cparams = dialect.create_connect_args(self._engine.url)
        raw = dialect.loaded_dbapi.connect(*cargs, **cparams)
        raw.autocommit = True
        return raw
