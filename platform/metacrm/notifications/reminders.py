"""`notifications.reminders`: the periodic task that tells users a record of theirs is due.

An entity declares its reminders (`EntityDef.reminders`: a date/datetime field, whom to
tell, and `unless` — e.g. the task is done). A record's moment is the field's value; a
`date` counts from `DATE_REMINDER_TIME` (09:00 UTC) of that day, so a task due today is
reminded of in the morning rather than at midnight. Each recipient is reminded once, as
soon as a tick finds `moment - their reminder_minutes <= now < moment`: a moment already
past reminds nobody (a task created overdue, or a scheduler stopped meanwhile).

Safe with several schedulers: the notification's `source` is the reminder's record, field
and moment, and `store.add` adds one per (user, source) — a second tick, or a second
scheduler, adds nothing, while a moved due date makes a new source and reminds again.
Records are found with the records repository and criteria (no SQL on record tables), like
the time triggers (`metacrm.automation.schedule`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from metacrm.criteria.context import CriteriaContext
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.metadata.model import CompiledModel, EntityDef, ReminderDef
from metacrm.notifications import preferences, store
from metacrm.services.records import RecordsService

_log = logging.getLogger(__name__)

TASK_NAME = "notifications.reminders"
DATE_REMINDER_TIME = time(9, 0, tzinfo=UTC)
OWNER = "owner"
PAGE = 500
MAX_SCAN = 10_000
"""Records one reminder reads at most per tick (the rest are found on the next ticks)."""


def reminder_moment(value: Any) -> datetime | None:
    """The moment a date (09:00 UTC of that day) or datetime field value names."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, DATE_REMINDER_TIME)
    return None


def reminder_source(entity: str, record_id: str, field: str, moment: datetime) -> str:
    """The idempotency key of one reminder: record, field and the moment it names."""
    return f"reminder:{entity}:{record_id}:{field}:{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}"


class DueReminders:
    """The periodic task; `services.periodic[TASK_NAME]`."""

    def __init__(self, engine: sa.Engine, records: RecordsService,
                 model: Callable[[], CompiledModel]) -> None:
        self.engine = engine
        self.records = records
        self.model = model

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
        added = 0
        with self.engine.begin() as conn:
            ahead = timedelta(minutes=preferences.longest_reminder_minutes(conn))
            due = list(self._due(conn, entity, reminder, fdef.type == "date", now, ahead))
            recipients = {user for _, _, users in due for user in users}
            leads = preferences.reminder_minutes(conn, recipients)
            for record_id, moment, users in due:
                source = reminder_source(entity.name, record_id, reminder.field, moment)
                for user in users:
                    if moment - timedelta(minutes=leads[user]) <= now:
                        added += store.add(conn, user_id=user, kind=store.REMINDER,
                                           source=source, at=now, entity=entity.name,
                                           record_id=record_id)
        return added

    def _due(self, conn: sa.Connection, entity: EntityDef, reminder: ReminderDef,
             is_date: bool, now: datetime, ahead: timedelta
             ) -> Iterator[tuple[str, datetime, tuple[str, ...]]]:
        """(record id, moment, recipients) of the records whose moment is in [now, now +
        ahead], not matching `unless`, with someone to remind."""
        window: list[Any] = [
            {"field": reminder.field, "op": "gte", "value": _literal(now, is_date)},
            {"field": reminder.field, "op": "lte", "value": _literal(now + ahead, is_date)},
        ]
        if reminder.unless is not None:
            window.append({"not": reminder.unless})
        for record in self._records(conn, entity.name, {"and": window}, now):
            moment = reminder_moment(record.get(reminder.field))
            if moment is None or not now <= moment <= now + ahead:
                continue
            users = _recipients(record, reminder.to)
            if users:
                yield str(record["id"]), moment, users

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


def _literal(moment: datetime, is_date: bool) -> str:
    """A bound of the window in the field's terms (a date bound is the whole day)."""
    return moment.date().isoformat() if is_date else datetime_to_json(moment)
