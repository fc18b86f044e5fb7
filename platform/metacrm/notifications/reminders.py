"""`notifications.reminders`: the periodic task that tells users a record of theirs is due.

An entity declares its reminders (`EntityDef.reminders`: a date/datetime field, whom to
tell, and `unless` — e.g. the task is done). A record's moment is the field's value; a
`date` counts from `DATE_REMINDER_TIME` (09:00) of that day in each recipient's time zone
(their profile; UTC by default), so a task due today is reminded of in their morning rather
than at midnight. The notification's `message` is the moment (RFC 3339, UTC): screens and
emails show it in the recipient's zone. Each recipient is reminded once, as
soon as a tick finds `moment - their reminder_minutes <= now < moment`: a moment already
past reminds nobody (a task created overdue, or a scheduler stopped meanwhile).

Safe with several schedulers: the notification's `source` is the reminder's record, field
and moment, and `store.add` adds one per (user, source) — a second tick, or a second
scheduler, adds nothing, while a moved due date makes a new source and reminds again.
A user who asked for reminders by email (`reminder_email`) also gets a work item for the
`notifications.reminder_mail` consumer, written with the notification, so the mail goes out
once, after the commit, with the job queue's retries (`metacrm.notifications.reminder_mail`).
Records are found with the records repository and criteria (no SQL on record tables), like
the time triggers (`metacrm.automation.schedule`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from metacrm.criteria.context import CriteriaContext
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.metadata.model import CompiledModel, EntityDef, ReminderDef
from metacrm.notifications import preferences, store
from metacrm.notifications.reminder_mail import Submit, submit_reminder_mail
from metacrm.services.records.service import RecordsService
from metacrm.storage.system_tables import user_preferences

_log = logging.getLogger(__name__)

TASK_NAME = "notifications.reminders"
DATE_REMINDER_TIME = time(9, 0)
OWNER = "owner"
PAGE = 500
ZONE_SLACK = timedelta(hours=15)
"""How far 09:00 of a date in some zone may be from 09:00 UTC (UTC-12 to UTC+14)."""
MAX_SCAN = 10_000
"""Records one reminder reads at most per tick (the rest are found on the next ticks)."""


def reminder_moment(value: Any, zone: str = "UTC") -> datetime | None:
    """The moment a date (09:00 of that day in `zone`) or datetime field value names, UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, date):
        try:
            local = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            local = ZoneInfo("UTC")
        return datetime.combine(value, DATE_REMINDER_TIME, local).astimezone(UTC)
    return None


def reminder_source(entity: str, record_id: str, field: str, moment: datetime) -> str:
    """The idempotency key of one reminder: record, field and the moment it names."""
    return f"reminder:{entity}:{record_id}:{field}:{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}"


class DueReminders:
    """The periodic task; `services.periodic[TASK_NAME]`."""

    def __init__(self, engine: sa.Engine, records: RecordsService,
                 model: Callable[[], CompiledModel], submit: Submit | None = None,
                 kick: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.records = records
        self.model = model
        self.submit = submit
        """Queues a reminder's mail (None: reminders stay on the bell only)."""
        self.kick = kick

    def __call__(self, now: datetime) -> None:
        for entity in self.model().entities.values():
            for reminder in entity.reminders:
                try:
                    self.remind(entity, reminder, now)
                except Exception:  # one broken reminder must not stop the others
                    _log.exception("reminders of %s.%s failed", entity.name, reminder.field)

    def remind(self, entity: EntityDef, reminder: ReminderDef, now: datetime) -> int:
        """Add the reminders of `entity` due at `now`; how many were added."""
        fdef = entity.field(reminder.field)
        if fdef is None:
            return 0
        added = mailed = 0
        is_date = fdef.type == "date"
        with self.engine.begin() as conn:
            ahead = timedelta(minutes=preferences.longest_reminder_minutes(conn))
            due = list(self._due(conn, entity, reminder, is_date, now, ahead))
            recipients = {user for _, _, users in due for user in users}
            leads = preferences.reminder_minutes(conn, recipients)
            zones = _zones(conn, recipients) if is_date else {}
            by_mail = preferences.mailed_reminders(conn, recipients) if self.submit else set()
            for record_id, value, users in due:
                for user in users:
                    moment = reminder_moment(value, zones.get(user) or "UTC")
                    if moment is None or not now <= moment <= now + ahead \
                            or moment - timedelta(minutes=leads[user]) > now:
                        continue
                    source = reminder_source(entity.name, record_id, reminder.field, moment)
                    if not store.add(conn, user_id=user, kind=store.REMINDER, source=source,
                                     at=now, entity=entity.name, record_id=record_id,
                                     message=datetime_to_json(moment)):
                        continue
                    added += 1
                    if user in by_mail and self.submit is not None:
                        submit_reminder_mail(conn, self.submit, user_id=user,
                                             entity=entity.name, record_id=record_id,
                                             moment=datetime_to_json(moment), at=now)
                        mailed += 1
        if mailed and self.kick is not None:
            self.kick()
        return added

    def _due(self, conn: sa.Connection, entity: EntityDef, reminder: ReminderDef,
             is_date: bool, now: datetime, ahead: timedelta
             ) -> Iterator[tuple[str, Any, tuple[str, ...]]]:
        """(record id, field value, recipients) of the records whose moment may be in [now,
        now + ahead] (a date: in some zone), not matching `unless`, with someone to remind."""
        slack = ZONE_SLACK if is_date else timedelta(0)
        window: list[Any] = [
            {"field": reminder.field, "op": "gte", "value": _literal(now - slack, is_date)},
            {"field": reminder.field, "op": "lte",
             "value": _literal(now + ahead + slack, is_date)},
        ]
        if reminder.unless is not None:
            window.append({"not": reminder.unless})
        for record in self._records(conn, entity.name, {"and": window}, now):
            value = record.get(reminder.field)
            moment = reminder_moment(value)
            if moment is None or not now - slack <= moment <= now + ahead + slack:
                continue
            users = _recipients(record, reminder.to)
            if users:
                yield str(record["id"]), value, users

    def _records(self, conn: sa.Connection, entity: str, criteria: Any, now: datetime
                 ) -> Iterator[Mapping[str, Any]]:
        repository = self.records.runtime().system
        cursor = None
        seen = 0
        while seen < MAX_SCAN:
            page = repository.query(conn, entity, criteria=criteria,
                                    context=CriteriaContext(None, (), now),
                                    limit=min(PAGE, MAX_SCAN - seen), cursor=cursor)
            for record in page.records:
                seen += 1
                yield record
            cursor = page.next_cursor
            if cursor is None:
                return


def _recipients(record: Mapping[str, Any], to: tuple[str, ...]) -> tuple[str, ...]:
    users: list[str] = []
    for name in to:
        value = record.get(name)
        if isinstance(value, str) and value and value not in users:
            users.append(value)
    return tuple(users)


def _zones(conn: sa.Connection, users: set[str]) -> dict[str, str]:
    """The time zones the users picked (absent: UTC)."""
    if not users:
        return {}
    rows = conn.execute(sa.select(user_preferences.c.user_id, user_preferences.c.time_zone)
                        .where(user_preferences.c.user_id.in_(sorted(users))))
    return {row.user_id: row.time_zone for row in rows if row.time_zone}


def _literal(moment: datetime, is_date: bool) -> str:
    """A bound of the window in the field's terms (a date bound is the whole day)."""
    return moment.date().isoformat() if is_date else datetime_to_json(moment)
