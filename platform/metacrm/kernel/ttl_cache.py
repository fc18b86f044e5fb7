"""A small thread-safe per-process cache whose entries expire after a given time.

Several read paths ask the database the same question again and again within seconds: who a
request's user is (identity), which teams they belong to (access), roughly how many records
a list filter matches (storage). Keeping an answer for a short time removes those round
trips while a change made elsewhere still shows within the TTL.

No Flask and no SQLAlchemy here: every layer may use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

MAX_ENTRIES = 10_000
"""Entries kept at most; the whole cache is emptied when full (it refills in one TTL)."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Clock = Callable[[], float]


class TtlCache(Generic[K, V]):
    """Values by key, each forgotten `ttl` seconds after it was stored."""

    def __init__(
        self, ttl: float, *, clock: Clock = time.monotonic, max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._ttl: float = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        """Seconds an entry lives (0 or less: nothing is cached)."""
        return self._ttl

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
