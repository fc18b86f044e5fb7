"""A user's calendar: the meetings and tasks they own in a time range, read through the
asking subject's scoped repository.

What is on a calendar comes from the metadata, not from a list here: every entity whose
`reminders` remind the record's `owner` of a `date` or `datetime` field (the activities
pack's `meeting.starts_at`, the tasks pack's `task.due_date`) shows its records on their
owner's calendar at that moment. A `datetime` field gives a timed item, ending at the
entity's `ends_at` datetime field when it has one (else after `DEFAULT_LENGTH`); a `date`
field gives an all-day item on that day of the user's time zone. An entity reminding of
both a `date` and a `datetime` field (the task's `due_date` and optional `due_at`) shows
each record once: timed at the datetime when it has one, else all-day on the date — and an
item says which field it sits on (`field`), so a drag moves that one. Records matching the
reminder's `unless` (a held or cancelled meeting, a done task) still show: a calendar is
also what happened.

Access: a user always may ask for their own calendar. Anyone else's (a manager's team
calendar) needs a read scope covering that user's records — an `all` grant, or a `team`
grant whose members include them — on at least one calendar entity; otherwise Forbidden.
Every record is then read through the asking subject's scoped repository, so rules, field
security and the entities they may not read apply as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from metacrm.access.scope import AccessScope
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.errors import ErrorDetail, Forbidden, ValidationFailed
from metacrm.metadata.model import CompiledModel
from metacrm.services.records.service import RecordsService
from metacrm.services.users.preferences import saved_time_zone

OWNER = "owner"
END_FIELD = "ends_at"
DEFAULT_LENGTH = timedelta(minutes=30)
MAX_RANGE = timedelta(days=62)
"""The widest range one request may ask for: a month view with the weeks around it."""
MAX_ITEMS = 2000
"""Items of one entity one request returns at most (`truncated` says when more exist)."""
PAGE = 500


@dataclass(frozen=True, slots=True)
class CalendarSource:
    """An entity on calendars: the field giving its moment and, for timed items, its end.

    `timed`: for an all-day source, a datetime field that, when a record has it, makes the
    record a timed item at that moment instead (ending after `DEFAULT_LENGTH`)."""

    entity: str
    start: str
    all_day: bool
    end: str | None = None
    timed: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarItem:
    """One meeting or task on a calendar; `start`/`end` in UTC (an all-day item spans its
    day in the user's zone, `day` naming it)."""

    entity: str
    id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool
    day: date | None
    record: Mapping[str, Any]
    field: str = ""
    """The record's field the item sits on (what rescheduling it changes)."""

    def rendered(self, record: Mapping[str, Any]) -> CalendarItem:
        """This item carrying its record as the records API renders it."""
        return replace(self, record=record)

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "id": self.id, "title": self.title,
                "start": datetime_to_json(self.start), "end": datetime_to_json(self.end),
                "all_day": self.all_day,
                "date": self.day.isoformat() if self.day is not None else None,
                "field": self.field, "record": dict(self.record)}


@dataclass(frozen=True, slots=True)
class Calendar:
    """The items of one user's calendar in [start, end), in their time zone."""

    user: str
    time_zone: str
    start: datetime
    end: datetime
    items: tuple[CalendarItem, ...]
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {"user": self.user, "time_zone": self.time_zone,
                "from": datetime_to_json(self.start), "to": datetime_to_json(self.end),
                "truncated": self.truncated, "data": [item.to_json() for item in self.items]}


def calendar_sources(model: CompiledModel) -> tuple[CalendarSource, ...]:
    """The entities whose reminders tell the owner of a date or datetime field (the first
    of each type): a datetime alone gives timed items, a date alone all-day ones, both an
    all-day source whose records with the datetime are timed."""
    found: list[CalendarSource] = []
    for entity in model.entities.values():
        first: dict[str, str] = {}
        for reminder in entity.reminders:
            fdef = entity.field(reminder.field)
            if OWNER in reminder.to and fdef is not None and fdef.type in ("date", "datetime"):
                first.setdefault(fdef.type, reminder.field)
        if "date" in first:
            found.append(CalendarSource(entity.name, first["date"], True,
                                        timed=first.get("datetime")))
        elif "datetime" in first:
            end = entity.field(END_FIELD)
            found.append(CalendarSource(
                entity.name, first["datetime"], False,
                END_FIELD if end is not None and end.type == "datetime" else None))
    return tuple(sorted(found, key=lambda source: source.entity))


def user_zone(engine: sa.Engine, user_id: str) -> str:
    """The IANA zone the user picked on their profile (UTC when none or unknown)."""
    return saved_time_zone(engine, user_id)


def covers_owner(scope: AccessScope, subject: AccessSubject, owner: str) -> bool:
    """Whether some grant of `scope` may admit records owned by `owner` (rules aside)."""
    for grant in scope.grants:
        if grant.scope == "all":
            return True
        if grant.scope == "team" and owner in subject.owners_in_team():
            return True
        if grant.scope == "own" and owner == subject.user_id:
            return True
    return False


def check_range(start: datetime, end: datetime) -> None:
    """ValidationFailed unless `start < end` and the range is at most MAX_RANGE long."""
    if end <= start:
        raise ValidationFailed("invalid range", [ErrorDetail("must be after from", "/to")])
    if end - start > MAX_RANGE:
        raise ValidationFailed("range too long", [ErrorDetail(
            f"must be at most {MAX_RANGE.days} days after from", "/to")])


class CalendarService:
    """Calendars as a subject may see them."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def calendar(self, subject: AccessSubject, user_id: str, start: datetime,
                 end: datetime, *, check_length: bool = True) -> Calendar:
        """The items of `user_id`'s calendar in [start, end) that `subject` may read."""
        if check_length:
            check_range(start, end)
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        sources = calendar_sources(runtime.model)
        readable = [source for source in sources
                    if covers_owner(scoped.scope(source.entity, "read"), subject, user_id)]
        if user_id != subject.user_id and not readable:
            raise Forbidden("you may not see this user's calendar", [ErrorDetail(
                "your read scope on meetings and tasks does not cover this user's records",
                "/user")])
        zone_name = user_zone(self.records.engine, user_id)
        zone = ZoneInfo(zone_name)
        items: list[CalendarItem] = []
        truncated = False
        with self.records.engine.connect() as conn:
            for source in readable:
                found, more = self._items(conn, scoped, source, user_id, start, end, zone)
                items.extend(item.rendered(runtime.json.record(item.entity, item.record))
                             for item in found)
                truncated = truncated or more
        items.sort(key=lambda item: (item.start, not item.all_day, item.title, item.id))
        return Calendar(user_id, zone_name, start, end, tuple(items), truncated)

    def _items(self, conn: sa.Connection, scoped: ScopedRepository, source: CalendarSource,
               user_id: str, start: datetime, end: datetime, zone: ZoneInfo
               ) -> tuple[list[CalendarItem], bool]:
        shown = scoped.field_access(source.entity).hidden
        if source.start in shown:
            return [], False
        if source.timed in shown:
            source = replace(source, timed=None)
        title_field = self.records.runtime().model.entities[source.entity].title_field
        criteria = {"and": [{"field": OWNER, "op": "eq", "value": user_id},
                            *self._window(source, start, end, zone, shown)]}
        items: list[CalendarItem] = []
        for record in self._records(conn, scoped, source.entity, criteria):
            item = _item(source, record, title_field, zone)
            if item is not None and item.start < end and item.end > start:
                items.append(item)
            if len(items) >= MAX_ITEMS:
                return items, True
        return items, False

    @staticmethod
    def _window(source: CalendarSource, start: datetime, end: datetime, zone: ZoneInfo,
                hidden: frozenset[str]) -> list[Any]:
        if source.all_day:
            days: list[Any] = [{"field": source.start, "op": "gte",
                                "value": start.astimezone(zone).date().isoformat()},
                               {"field": source.start, "op": "lte",
                                "value": end.astimezone(zone).date().isoformat()}]
            if source.timed is None:
                return days
            timed = CalendarSource(source.entity, source.timed, False)
            return [{"or": [
                {"and": [{"field": source.timed, "op": "is_null", "value": True}, *days]},
                {"and": CalendarService._window(timed, start, end, zone, hidden)}]}]
        parts: list[Any] = [{"field": source.start, "op": "lt",
                             "value": datetime_to_json(end)}]
        since = {"field": source.start, "op": "gte",
                 "value": datetime_to_json(start - DEFAULT_LENGTH)}
        if source.end is not None and source.end not in hidden:
            parts.append({"or": [since, {"field": source.end, "op": "gt",
                                         "value": datetime_to_json(start)}]})
        else:
            parts.append(since)
        return parts

    @staticmethod
    def _records(conn: sa.Connection, scoped: ScopedRepository, entity: str, criteria: Any
                 ) -> Iterator[Mapping[str, Any]]:
        cursor = None
        seen = 0
        while seen <= MAX_ITEMS:
            page = scoped.page(conn, entity, criteria=criteria, limit=PAGE, cursor=cursor)
            for record in page.records:
                seen += 1
                yield record
            cursor = page.next_cursor
            if cursor is None:
                return


def _item(source: CalendarSource, record: Mapping[str, Any], title_field: str | None,
          zone: ZoneInfo) -> CalendarItem | None:
    title = str(record.get(title_field) or "") if title_field else ""
    if source.timed is not None and isinstance(record.get(source.timed), datetime):
        source = CalendarSource(source.entity, source.timed, False)
    value = record.get(source.start)
    if source.all_day:
        if not isinstance(value, date) or isinstance(value, datetime):
            return None
        begins = datetime.combine(value, time(0), zone).astimezone(UTC)
        ends = datetime.combine(value + timedelta(days=1), time(0), zone).astimezone(UTC)
        return CalendarItem(source.entity, str(record["id"]), title, begins, ends, True, value,
                            record, source.start)
    if not isinstance(value, datetime):
        return None
    begins = value.astimezone(UTC)
    finish = record.get(source.end) if source.end is not None else None
    ends = finish.astimezone(UTC) if isinstance(finish, datetime) and finish > value \
        else begins + DEFAULT_LENGTH
    return CalendarItem(source.entity, str(record["id"]), title, begins, ends, False, None,
                        record, source.start)
