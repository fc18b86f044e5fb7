"""End a user's logins when their credentials or rights change, in the same transaction.

Users change through Flask-AppBuilder's ORM session (its user pages and API, its password
forms, `users.create_user`, the test harness). A listener on every ORM flush looks at the
users in it:

* **password changed**: every other session of the user ends (the one making the change —
  the user on their own password page — stays), and the credential epoch moves on, so
  every JWT issued before stops working;
* **deactivated**: every session ends and the epoch moves on;
* **a role removed** (directly, or by leaving a group): every session ends — a page opened
  with more rights must not stay open. JWTs need nothing: roles are read per request.

The deletes run on the flush's own connection, so they commit or roll back with the change.
After the commit the remembered credential epochs of this process are forgotten
(`EpochCache`); other processes notice within `IDENTITY_CACHE_TTL` for JWTs, and at once
for sessions (their rows are gone, and sessions are never cached).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, session
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import orm

from metacrm.identity.session_store import advance_credential_epoch, end_user_sessions
from metacrm.identity.ttl_cache import TtlCache

SESSION_KEY = "metacrm_session"
"""The key of the server-side session id in Flask's signed session cookie."""

_REVOKED = "metacrm_credentials_revoked"

_caches: weakref.WeakSet[EpochCache] = weakref.WeakSet()
_caches_lock = threading.Lock()


class EpochCache(TtlCache[int, int]):
    """Users' credential epochs by user id, emptied when a flush in this process moves one."""

    def __init__(self, ttl: float | None = None) -> None:
        super().__init__(ttl)
        with _caches_lock:
            _caches.add(self)
            _watch_sessions()


def _current_session_id() -> str | None:
    if not has_request_context():
        return None
    found = session.get(SESSION_KEY)
    return found if isinstance(found, str) else None


def _changed(instance: User, name: str) -> sa.orm.attributes.History | None:
    attributes = sa.inspect(instance).attrs
    if name not in attributes:
        return None
    history: sa.orm.attributes.History = attributes[name].history
    return history


def _after_flush(session_: orm.Session, _context: Any) -> None:
    users = [instance for instance in session_.dirty if isinstance(instance, User)]
    if not users:
        return
    connection = session_.connection()
    for user in users:
        password = _changed(user, "password")
        active = _changed(user, "active")
        roles = _changed(user, "roles")
        groups = _changed(user, "groups")
        password_changed = password is not None and bool(password.added)
        deactivated = (active is not None and bool(active.added)
                       and not any(active.added))
        lost_rights = any(history is not None and bool(history.deleted)
                          for history in (roles, groups))
        if not (password_changed or deactivated or lost_rights):
            continue
        user_id = int(user.id)
        keep = (_current_session_id()
                if password_changed and not (deactivated or lost_rights) else None)
        end_user_sessions(connection, user_id, keep=keep)
        if password_changed or deactivated:
            advance_credential_epoch(connection, user_id)
            session_.info[_REVOKED] = True


def _after_commit(session_: orm.Session) -> None:
    if session_.info.pop(_REVOKED, False):
        with _caches_lock:
            caches = list(_caches)
        for cache in caches:
            cache.clear()


def _after_soft_rollback(session_: orm.Session, _previous: Any) -> None:
    session_.info.pop(_REVOKED, None)


def _watch_sessions() -> None:
    """Listen (once per process) to every ORM session's flushes and commits."""
    if not sa.event.contains(orm.Session, "after_flush", _after_flush):
        sa.event.listen(orm.Session, "after_flush", _after_flush)
        sa.event.listen(orm.Session, "after_commit", _after_commit)
        sa.event.listen(orm.Session, "after_soft_rollback", _after_soft_rollback)
