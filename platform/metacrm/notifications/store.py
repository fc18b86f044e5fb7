"""Rows of `metacrm_notifications`: add (idempotent per user and source), page, count, mark
read. Only the notifications service and its producers use it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from metacrm.kernel.ids import new_id
from metacrm.storage.system_tables import notifications

ASSIGNED = "assigned"
AUTOMATION = "automation"
REMINDER = "reminder"
KINDS = (ASSIGNED, AUTOMATION, REMINDER)


@dataclass(frozen=True, slots=True)
class StoredNotification:
    id: str
    user_id: str
    kind: str
    entity: str | None
    record_id: str | None
    message: str | None
    actor: str | None
    created_at: datetime
    read_at: datetime | None


def add(conn: sa.Connection, *, user_id: str, kind: str, source: str, at: datetime,
        entity: str | None = None, record_id: str | None = None, message: str | None = None,
        actor: str | None = None) -> bool:
    """Add a notification unless `user_id` already has one from `source`; True if added.

    The unique (user, source) key makes a retried producer harmless; the insert runs in a
    savepoint so a concurrent duplicate does not abort the caller's transaction."""
    exists = conn.execute(sa.select(notifications.c.id).where(
        notifications.c.user_id == user_id, notifications.c.source == source)).first()
    if exists is not None:
        return False
    try:
        with conn.begin_nested():
            conn.execute(notifications.insert().values(
                id=new_id(), user_id=user_id, kind=kind, entity=entity, record_id=record_id,
                message=message, actor=actor, source=source, created_at=at))
    except sa.exc.IntegrityError:
        return False
    return True


def page(conn: sa.Connection, user_id: str, *, unread_only: bool, limit: int,
         before: tuple[datetime, str] | None = None) -> list[StoredNotification]:
    """The user's notifications, newest first, after the (created_at, id) cursor `before`."""
    table = notifications
    query = sa.select(table).where(table.c.user_id == user_id)
    if unread_only:
        query = query.where(table.c.read_at.is_(None))
    if before is not None:
        at, last_id = before
        query = query.where(sa.or_(table.c.created_at < at,
                                   sa.and_(table.c.created_at == at, table.c.id < last_id)))
    query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    return [_notification(row) for row in conn.execute(query).mappings()]


def unread_count(conn: sa.Connection, user_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(notifications).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None))).scalar_one())


def unread_about(conn: sa.Connection, user_id: str) -> list[tuple[str | None, str | None]]:
    """(entity, record id) of each unread notification (to count what the user may read)."""
    rows = conn.execute(sa.select(notifications.c.entity, notifications.c.record_id).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None)))
    return [(row.entity, row.record_id) for row in rows]


def mark_read(conn: sa.Connection, user_id: str, ids: Sequence[str] | None, at: datetime
              ) -> int:
    """Mark the user's notifications `ids` (None: all) read; how many changed."""
    statement = notifications.update().where(notifications.c.user_id == user_id,
                                             notifications.c.read_at.is_(None))
    if ids is not None:
        statement = statement.where(notifications.c.id.in_(list(ids)))
    return int(conn.execute(statement.values(read_at=at)).rowcount or 0)


def _notification(row: sa.RowMapping) -> StoredNotification:
    return StoredNotification(
        id=row["id"], user_id=row["user_id"], kind=row["kind"], entity=row["entity"],
        record_id=row["record_id"], message=row["message"], actor=row["actor"],
        created_at=row["created_at"], read_at=row["read_at"])
