"""Loaded user identities (user + role names), kept a few seconds per process.

Every authenticated request needs its user's name, active flag and roles; loading them is a
connection checkout and a query. `UserCache` keeps them for `ttl_cache.IDENTITY_CACHE_TTL`
seconds, keyed by user id. A change to users, roles or groups made through Flask-AppBuilder's
session in this process (its user admin pages and API, `users.create_user`, tests) empties
every user cache of the process (and the remembered token verifications) when it commits,
so it takes effect at once here; a change made by another process or behind FAB's back
takes effect within the TTL.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from metacrm.identity.token_store import forget_verified_tokens
from metacrm.identity.ttl_cache import Clock, TtlCache
from metacrm.kernel.users import UserIdentity

_WATCHED_TABLES = frozenset({"ab_user", "ab_role", "ab_group"})
"""Flask-AppBuilder's user, role and group tables, named rather than imported so that the
cache (used by `SubjectDirectory` in every process) does not load Flask-AppBuilder."""
_CHANGED = "metacrm_identity_changed"

_caches: weakref.WeakSet[UserCache] = weakref.WeakSet()
_caches_lock = threading.Lock()


class UserCache(TtlCache[int, UserIdentity]):
    """User identities by user id; emptied when FAB's users, roles or groups change."""

    def __init__(self, ttl: float | None = None, *, clock: Clock | None = None) -> None:
        if clock is None:
            super().__init__(ttl)
        else:
            super().__init__(ttl, clock=clock)
        with _caches_lock:
            _caches.add(self)
            _watch_sessions()


def forget_all_users() -> None:
    """Empty every user cache of this process (after users or roles changed), and the
    remembered token verifications: a deleted user's tokens go with them at once."""
    with _caches_lock:
        caches = list(_caches)
    for cache in caches:
        cache.clear()
    forget_verified_tokens()


def _touches_identity(session: orm.Session) -> bool:
    return any(
        getattr(type(instance), "__tablename__", None) in _WATCHED_TABLES
        for instance in (*session.new, *session.dirty, *session.deleted)
    )


def _after_flush(session: orm.Session, _context: Any) -> None:
    if _touches_identity(session):
        session.info[_CHANGED] = True


def _after_commit(session: orm.Session) -> None:
    if session.info.pop(_CHANGED, False):
        forget_all_users()


def _after_soft_rollback(session: orm.Session, _previous: Any) -> None:
    session.info.pop(_CHANGED, None)


def _watch_sessions() -> None:
    """Listen (once per process) to every ORM session's flushes and commits."""
    if not sa.event.contains(orm.Session, "after_flush", _after_flush):
        sa.event.listen(orm.Session, "after_flush", _after_flush)
        sa.event.listen(orm.Session, "after_commit", _after_commit)
        sa.event.listen(orm.Session, "after_soft_rollback", _after_soft_rollback)
