"""The identity caches' TTL: loaded users, verified tokens, users' teams.

Authenticating a request and building its access subject each read the same few rows (the
user and their roles, a personal token, the user's teams) again and again: a caller making
many requests in a row would cost several round trips each time. Keeping the answer for
a few seconds removes them, while a change made elsewhere (another process, a direct SQL
update) still takes effect within the TTL. Changes made through metacrm in this process
invalidate the entries they touch at once.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import TypeVar

from metacrm.kernel import ttl_cache
from metacrm.kernel.ttl_cache import MAX_ENTRIES, Clock

IDENTITY_CACHE_TTL = 5.0
"""Seconds a loaded user identity, a verified personal token or a user's teams are reused
in one process before the database is asked again. A deactivated user, changed roles or
team memberships and a token revoked from another process take effect within this time."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["IDENTITY_CACHE_TTL", "Clock", "TtlCache"]


class TtlCache(ttl_cache.TtlCache[K, V]):
    """A `kernel.ttl_cache.TtlCache` whose TTL defaults to IDENTITY_CACHE_TTL (read when
    an entry is stored, so a test or an operator can change it at run time)."""

    def __init__(
        self, ttl: float | None = None, *, clock: Clock = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        super().__init__(0.0 if ttl is None else ttl, clock=clock, max_entries=max_entries)
        self._default = ttl is None

    @property
    def ttl(self) -> float:
        """The TTL in seconds (IDENTITY_CACHE_TTL unless one was given)."""
        return IDENTITY_CACHE_TTL if self._default else self._ttl
