"""`notifications.digest`: the periodic task that mails opted-in users their unread
notifications once a day.

A user opts in on the notifications page (`notification_digest: daily`). On the first tick
of each UTC day the task claims each such user's digest (`preferences.claim_digest`: one
conditional update, the row locked until the mail went out) and mails them the unread
notifications of the last day — since their previous digest if that is later, so nothing
is mailed twice — as `NotificationService.list` shows them: only those about records they
may still read, titled as they may see them. Nothing unread: no mail, but the day counts as
done. A mail that fails rolls the claim back, and this process tries again after
`RETRY_AFTER`; a second scheduler waits on the claim and then finds the day done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.jobs import MailChannel, MailMessage
from metacrm.kernel.users import UserDirectory
from metacrm.metadata.model import CompiledModel
from metacrm.notifications import preferences
from metacrm.notifications.service import MAX_LIMIT, Notification, NotificationService
from metacrm.services.users.preferences import saved_time_zone

_log = logging.getLogger(__name__)

TASK_NAME = "notifications.digest"
LOOK_BACK = timedelta(days=1)
MAX_ITEMS = 200
"""Notifications one digest lists at most (it says how many more there are)."""
MAX_PAGES = 10
RETRY_AFTER = timedelta(minutes=5)
"""A failed mail (the SMTP server is down) is tried again this much later, not every tick."""

KIND_TEXT = {"assigned": "Assigned to you", "reminder": "Due soon"}


class DailyDigest:
    """The periodic task; `services.periodic[TASK_NAME]`."""

    def __init__(self, engine: sa.Engine, notifications: NotificationService,
                 subject_of: Callable[[str], AccessSubject | None], users: UserDirectory,
                 mail: Callable[[], MailChannel | None],
                 model: Callable[[], CompiledModel]) -> None:
        self.engine = engine
        self.notifications = notifications
        self.subject_of = subject_of
        self.users = users
        self.mail = mail
        self.model = model
        self._retry_after: dict[str, datetime] = {}
        """Users whose mail failed, and when this process may try them again."""

    def __call__(self, now: datetime) -> None:
        channel = self.mail()
        if channel is None:
            return  # no mail configured in this process: nothing can be sent
        with self.engine.connect() as conn:
            pending = preferences.pending_digests(conn, _day_start(now))
        for digest in pending:
            if self._retry_after.get(digest.user_id, now) > now:
                continue
            try:
                self.send(digest, now, channel)
            except Exception:  # one user's failed mail must not stop the others
                _log.exception("the notification digest of user %s failed; retrying in %s",
                               digest.user_id, RETRY_AFTER)
                self._retry_after[digest.user_id] = now + RETRY_AFTER
            else:
                self._retry_after.pop(digest.user_id, None)

    def send(self, digest: preferences.PendingDigest, now: datetime, channel: MailChannel
             ) -> bool:
        """Mail today's digest unless another scheduler did; True if mailed. Without
        anything unread (or an address) the day is marked done without a mail."""
        subject = self.subject_of(digest.user_id)
        with self.engine.connect() as conn:
            address = self.users.email_of(conn, digest.user_id)
        since = now - LOOK_BACK
        if digest.previous is not None and _aware(digest.previous) > since:
            since = _aware(digest.previous)
        items = self._unread_since(subject, since) if subject is not None and address else []
        with self.engine.begin() as conn:
            if not preferences.claim_digest(conn, digest.user_id, now, _day_start(now)):
                return False
            if not items or address is None:
                return False
            channel.send(self._message(address, items,
                                       saved_time_zone(self.engine, digest.user_id)))
        return True

    def _unread_since(self, subject: AccessSubject, since: datetime) -> list[Notification]:
        """The subject's unread notifications created after `since`, newest first, as the
        notifications list shows them (only those about records they may read)."""
        found: list[Notification] = []
        cursor = None
        for _ in range(MAX_PAGES):
            page = self.notifications.list(subject, unread_only=True, limit=MAX_LIMIT,
                                           cursor=cursor)
            fresh = [item for item in page.items if _aware(item.stored.created_at) > since]
            found.extend(fresh)
            if len(fresh) < len(page.items) or page.next_cursor is None \
                    or len(found) >= MAX_ITEMS:
                break
            cursor = page.next_cursor
        return found[:MAX_ITEMS]

    def _message(self, address: str, items: list[Notification], zone_name: str = "UTC"
                 ) -> MailMessage:
        """The digest mail; times in the recipient's zone (`zone_name`, their profile)."""
        model = self.model()
        zone = ZoneInfo(zone_name)
        lines = []
        for item in items:
            stored = item.stored
            text = _text(stored.kind, stored.message, zone, zone_name)
            entity = model.entities.get(stored.entity or "")
            name = entity.label.get("en", entity.name) if entity is not None else ""
            title = _title(entity.title_field if entity else None, item)
            about = f" — {name}: {title}" if name else ""
            when = _aware(stored.created_at).astimezone(zone).strftime(
                f"%Y-%m-%d %H:%M {zone_name}")
            lines.append(f"* {when}  {text}{about}")
        count = len(items)
        subject = f"{count} unread notification{'s' if count != 1 else ''}"
        text = "Your unread notifications of the last day:\n\n" + "\n".join(lines) + "\n"
        return MailMessage(to=(address,), subject=subject, text=text)


def _text(kind: str, message: str | None, zone: ZoneInfo, zone_name: str) -> str:
    """What a notification says; a reminder tells its due moment in the recipient's zone."""
    if kind == "reminder" and message:
        try:
            moment = datetime.fromisoformat(message)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(zone).strftime(f"Due at %Y-%m-%d %H:%M {zone_name}")
    return message or KIND_TEXT.get(kind, "A message from an automation")


def _title(title_field: str | None, item: Notification) -> str:
    record = item.record or {}
    value = record.get(title_field) if title_field else None
    return str(value) if value not in (None, "") else str(item.stored.record_id or "")


def _day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
