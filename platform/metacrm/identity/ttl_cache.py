"""A small thread-safe per-process cache whose entries expire after a few seconds.

Authenticating a request and building its access subject each read the same few rows (the
user and their roles, a personal token, the user's teams) again and again: a caller making
many requests in a row would cost several round trips each time. Keeping the answer for
a few seconds removes them, while a change made elsewhere (another process, a direct SQL
update) still takes effect within the TTL. Changes made through metacrm in this process
invalidate the entries they touch at once.

No Flask and no SQLAlchemy here: `metacrm.access` uses it too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

IDENTITY_CACHE_TTL = 5.0
"""Seconds a loaded user identity, a verified personal token or a user's teams are reused
in one process before the database is asked again. A deactivated user, changed roles or
team memberships and a token revoked from another process take effect within this time."""

MAX_ENTRIES = 10_000
"""Entries kept at most; the whole cache is emptied when full (it refills in one TTL)."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Clock = Callable[[], float]


class TtlCache(Generic[K, V]):
    """Values by key, each forgotten `ttl` seconds after it was stored."""

    def __init__(
        self, ttl: float | None = None, *, clock: Clock = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        """The TTL in seconds (IDENTITY_CACHE_TTL unless one was given)."""
        return IDENTITY_CACHE_TTL if self._ttl is None else self._ttl

    def get(self, key: K) -> V | None:
        """The value stored for `key` less than `ttl` seconds ago, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if self._clock() >= expires_at:
                del self._entries[key]
                return None
            return value

    def get_or_load(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The cached value, or `load()`'s (stored only when not None: a failed lookup
        is never remembered, so it is retried on the next request)."""
        found = self.get(key)
        if found is not None:
            return found
        value = load()
        if value is not None:
            self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        ttl = self.ttl
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max_entries and key not in self._entries:
                self._entries.clear()
            self._entries[key] = (self._clock() + ttl, value)

    def discard(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def discard_where(self, matches: Callable[[V], bool]) -> None:
        """Forget every entry whose value `matches`."""
        with self._lock:
            for key in [k for k, (_, v) in self._entries.items() if matches(v)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
