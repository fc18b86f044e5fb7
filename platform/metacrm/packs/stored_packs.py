"""The packs store as a process's source of installed packs (the pack host's `PackSource`).

Every web request, job and scheduler tick asks whether the installed packs changed; the
generation number is read at most once per `RECHECK_SECONDS` per process, so a pack
installed by another process is loaded here within about a second, without a restart and
without a query per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from metacrm.packs.store import InstalledPack, installed_packs, pack_generation

RECHECK_SECONDS = 1.0


class StoredPacks:
    """Installed packs as `metacrm.packs.store` keeps them, read on `engine`."""

    def __init__(self, engine: sa.Engine, secret_key: str, *,
                 recheck: float = RECHECK_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.secret_key = secret_key
        self.recheck = recheck
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._generation = 0

    def generation(self) -> int:
        now = self._monotonic()
        with self._lock:
            if self._checked_at is not None and now - self._checked_at < self.recheck:
                return self._generation
            with self.engine.connect() as connection:
                self._generation = pack_generation(connection)
            self._checked_at = now
            return self._generation

    def packs(self) -> list[InstalledPack]:
        with self.engine.connect() as connection:
            return installed_packs(connection, self.secret_key)

    def forget(self) -> None:
        """Read the generation again at the next check (this process changed the packs)."""
        with self._lock:
            self._checked_at = None
