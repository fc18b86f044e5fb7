"""What the bell and `GET /api/v1/notifications` show: a user's notifications, each through
the reader's access scope.

A notification names a record; it is shown only while the reader may read that record, and
it carries the record as the reader may see it (hidden fields removed), so a notification
can never disclose more than opening the record would. The unread count is counted the same
way (up to `COUNT_CAP`; the bell shows "99+" beyond 99 anyway).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.notifications import preferences, store
from metacrm.notifications.preferences import NotificationPreferences
from metacrm.notifications.store import StoredNotification
from metacrm.services.records.service import RecordsService

MAX_LIMIT = 100
MAX_IDS = 100
"""Most notifications one request may mark read."""
COUNT_CAP = 500
"""At most this many unread notifications are checked for the count."""


@dataclass(frozen=True)
class Notification:
    """A stored notification with the record it is about, as the reader may see it."""

    stored: StoredNotification
    record: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        item = self.stored
        return {
            "id": item.id, "kind": item.kind, "entity": item.entity,
            "record_id": item.record_id, "message": item.message, "actor": item.actor,
            "created_at": _iso(item.created_at),
            "read_at": _iso(item.read_at) if item.read_at is not None else None,
            "record": dict(self.record) if self.record is not None else None,
        }


@dataclass(frozen=True)
class NotificationPage:
    items: list[Notification]
    next_cursor: str | None
    unread: int


class NotificationService:
    """A user's notifications: list, count unread, mark read."""

    def __init__(self, engine: sa.Engine, records: RecordsService,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.records = records
        self.clock = clock

    def list(self, subject: AccessSubject, *, unread_only: bool = False, limit: int = 50,
             cursor: str | None = None) -> NotificationPage:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}",
                                   [ErrorDetail(f"must be between 1 and {MAX_LIMIT}", "/limit")])
        if subject.user_id is None:
            return NotificationPage([], None, 0)
        before = decode_cursor(cursor) if cursor else None
        with self.engine.connect() as conn:
            stored = store.page(conn, subject.user_id, unread_only=unread_only,
                                limit=limit + 1, before=before)
        more = len(stored) > limit
        stored = stored[:limit]
        readable = self._readable(subject, ((n.entity, n.record_id) for n in stored))
        items = [Notification(n, readable.get((n.entity, n.record_id)))
                 for n in stored if _shown(n, readable)]
        next_cursor = encode_cursor(stored[-1]) if more and stored else None
        return NotificationPage(items, next_cursor, self.unread_count(subject))

    def unread_count(self, subject: AccessSubject) -> int:
        if subject.user_id is None:
            return 0
        with self.engine.connect() as conn:
            about = store.unread_about(conn, subject.user_id)[:COUNT_CAP]
        readable = self._readable(subject, about)
        return sum(1 for entity, record_id in about
                   if entity is None or (entity, record_id) in readable)

    def mark_read(self, subject: AccessSubject, ids: Sequence[str] | None) -> int:
        """Mark the subject's notifications `ids` (None: all of them) read; how many were
        unread. Ids of other users' notifications change nothing."""
        if subject.user_id is None:
            return 0
        with self.engine.begin() as conn:
            return store.mark_read(conn, subject.user_id, ids, self.clock())

    def preferences(self, subject: AccessSubject) -> NotificationPreferences:
        """The subject's reminder lead, reminder email and digest choices (defaults until
        they choose)."""
        if subject.user_id is None:
            return NotificationPreferences()
        return preferences.load(self.engine, subject.user_id)

    def save_preferences(self, subject: AccessSubject, reminder_minutes: object,
                         notification_digest: object, reminder_email: object = False
                         ) -> NotificationPreferences:
        """Check and keep the subject's choices; ValidationFailed names each bad one."""
        chosen = preferences.checked(reminder_minutes, notification_digest, reminder_email)
        if subject.user_id is not None:
            preferences.save(self.engine, subject.user_id, chosen, self.clock())
        return chosen

    def _readable(self, subject: AccessSubject,
                  about: Iterable[tuple[str | None, str | None]]
                  ) -> dict[tuple[str | None, str | None], Mapping[str, Any]]:
        """The records among `about` the subject may read, as they may see them."""
        wanted: dict[str, set[str]] = {}
        for entity, record_id in about:
            if entity is not None and record_id is not None:
                wanted.setdefault(entity, set()).add(record_id)
        found: dict[tuple[str | None, str | None], Mapping[str, Any]] = {}
        for entity, ids in wanted.items():
            try:
                page = self.records.list(subject, entity, criteria={
                    "field": "id", "op": "in", "value": sorted(ids)}, limit=len(ids))
            except MetacrmError:
                continue  # the entity is gone or not readable by this subject at all
            for record in page.records:
                found[(entity, str(record["id"]))] = record
        return found


def _shown(item: StoredNotification,
           readable: Mapping[tuple[str | None, str | None], Mapping[str, Any]]) -> bool:
    return item.entity is None or (item.entity, item.record_id) in readable


def encode_cursor(last: StoredNotification) -> str:
    raw = json.dumps([_iso(last.created_at), last.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, last_id = json.loads(raw)
        moment = datetime.fromisoformat(at)
        if not isinstance(last_id, str) or moment.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValidationFailed("invalid cursor", [ErrorDetail(
            "not a cursor of this list; use the next_cursor of a previous page", "/cursor")]
        ) from None
    return moment.astimezone(UTC), last_id


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
