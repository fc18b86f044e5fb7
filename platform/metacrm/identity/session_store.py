"""Server-side sessions and credential epochs: logins that the server can end at once.

A browser session is a row of `metacrm_sessions`; the signed session cookie carries only its
random id (and Flask-Login's user id). Every request that presents the cookie loads the user
through `find_session_user` — one primary-key lookup joined to the user, replacing the user
load Flask-Login made anyway — so deleting the row (logout, password change, deactivation,
role removal) ends the session in every web process and host at the same moment.

A session also ends by itself: `IDLE_TIMEOUT` after its last request and `MAX_AGE` after
the login (OWASP ASVS 3.3.2, level 2: 30 minutes idle, 12 hours at most). `last_seen_at`
is written at most once per `TOUCH_RESOLUTION`, so pages do not turn into a write each.

JWTs cannot be deleted, so each user has a credential epoch (`metacrm_credential_epochs`,
0 when there is no row): tokens carry the epoch they were issued in (claim `mcrm_epoch`),
and a password change or deactivation moves the epoch on, which refuses every access and
refresh token issued before.

No Flask here; the caller owns the transaction (pass a Connection).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from metacrm.fieldtypes.sqltypes import UTCDateTime

IDLE_TIMEOUT = timedelta(minutes=30)
MAX_AGE = timedelta(hours=12)
TOUCH_RESOLUTION = timedelta(minutes=1)
SESSION_ID_LENGTH = 43  # token_urlsafe(32)

session_metadata = sa.MetaData()

# Flask-AppBuilder's user table, declared only so the foreign keys below can be rendered:
# deleting a user deletes their sessions and epoch.
_fab_users = sa.Table("ab_user", session_metadata, sa.Column("id", sa.Integer, primary_key=True))

sessions = sa.Table(
    "metacrm_sessions",
    session_metadata,
    sa.Column("id", sa.String(SESSION_ID_LENGTH), primary_key=True),
    sa.Column("user_id", sa.Integer,
              sa.ForeignKey("ab_user.id", ondelete="CASCADE", name="fk_metacrm_sessions_user"),
              nullable=False, index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False, index=True),
)

credential_epochs = sa.Table(
    "metacrm_credential_epochs",
    session_metadata,
    sa.Column("user_id", sa.Integer,
              sa.ForeignKey("ab_user.id", ondelete="CASCADE",
                            name="fk_metacrm_credential_epochs_user"),
              primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),
)


@dataclass(frozen=True)
class LiveSession:
    """A session that is still valid."""

    id: str
    user_id: int
    last_seen_at: datetime


def create_session_tables(connection: sa.Connection) -> None:
    """Create the session and epoch tables when missing (idempotent; needs `ab_user`)."""
    session_metadata.create_all(connection, tables=[sessions, credential_epochs],
                                checkfirst=True)


def start_session(connection: sa.Connection, user_id: int, now: datetime) -> str:
    """A new session of `user_id`; returns its id (put it in the signed cookie only).
    Expired sessions of everybody are removed on the way (logins are rare enough)."""
    connection.execute(sessions.delete().where(
        (sessions.c.last_seen_at <= now - IDLE_TIMEOUT)
        | (sessions.c.created_at <= now - MAX_AGE)))
    session_id = secrets.token_urlsafe(32)
    connection.execute(sessions.insert().values(id=session_id, user_id=user_id,
                                                created_at=now, last_seen_at=now))
    return session_id


def live_session(connection: sa.Connection, session_id: str, user_id: int,
                 now: datetime) -> LiveSession | None:
    """The session with this id when it belongs to `user_id` and has not expired; its
    `last_seen_at` is moved on (at most once per TOUCH_RESOLUTION)."""
    if not isinstance(session_id, str) or len(session_id) != SESSION_ID_LENGTH:
        return None
    row = connection.execute(
        sa.select(sessions.c.id, sessions.c.user_id, sessions.c.last_seen_at)
        .where(sessions.c.id == session_id, sessions.c.user_id == user_id,
               sessions.c.last_seen_at > now - IDLE_TIMEOUT,
               sessions.c.created_at > now - MAX_AGE)
    ).first()
    if row is None:
        return None
    if now - row.last_seen_at >= TOUCH_RESOLUTION:
        connection.execute(sessions.update().where(sessions.c.id == session_id)
                           .values(last_seen_at=now))
    return LiveSession(row.id, row.user_id, row.last_seen_at)


def end_session(connection: sa.Connection, session_id: str) -> None:
    """End one session (logout)."""
    connection.execute(sessions.delete().where(sessions.c.id == session_id))


def end_user_sessions(connection: sa.Connection, user_id: int, *,
                      keep: str | None = None) -> int:
    """End every session of `user_id` but `keep`; the number ended."""
    condition = sessions.c.user_id == user_id
    if keep is not None:
        condition = condition & (sessions.c.id != keep)
    return int(connection.execute(sessions.delete().where(condition)).rowcount or 0)


def credential_epoch(connection: sa.Connection, user_id: int) -> int:
    """The user's current credential epoch (0 until their credentials first change)."""
    found = connection.execute(sa.select(credential_epochs.c.epoch)
                               .where(credential_epochs.c.user_id == user_id)).scalar()
    return int(found) if found is not None else 0


def advance_credential_epoch(connection: sa.Connection, user_id: int) -> None:
    """Move the user's epoch on: every JWT issued so far stops working."""
    table = credential_epochs
    updated = connection.execute(table.update().where(table.c.user_id == user_id)
                                 .values(epoch=table.c.epoch + 1))
    if not updated.rowcount:
        connection.execute(table.insert().values(user_id=user_id, epoch=1))
