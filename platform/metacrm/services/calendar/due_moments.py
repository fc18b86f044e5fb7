"""A task's due date and due time kept in step on every save (`SaveInterceptors`).

A task has a due date (`due_date`, all-day) and may have a due time (`due_at`). The calendar,
the reminders and the lists read one or the other, so they must agree: the due date is
always the due time's date **in the owner's time zone** (their profile; UTC when they chose
none or the task has no owner — the instance has no zone of its own; on create, before the
task has its owner, the zone of whoever creates it). On each save:

* setting `due_at` sets `due_date` to its date in that zone (the due time wins when both
  are given and disagree: it is the more precise of the two);
* setting only `due_date` on a timed task moves the task to that day at the same
  wall-clock time (a task due Friday 15:00 whose date becomes Monday is due Monday 15:00 in
  the owner's zone, whatever DST did in between);
* clearing `due_date` clears `due_time` too (no day, no time); clearing `due_at` keeps the
  date: the task becomes an all-day task of that day.

Runs with the lookup defaults, before packs' interceptors and computed fields, so every
later step sees the two values agree. `PAIRS` names the entities and fields; an entity of
that name without both fields (a customized task) is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.base import FieldValueError
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef
from metacrm.services.records.save_hooks import SaveInterceptors, chained
from metacrm.services.records.service import RecordsService
from metacrm.storage.record_codec import Record
from metacrm.storage.system_tables import user_preferences

if TYPE_CHECKING:
    from metacrm.composition import Services

OWNER = "owner"


@dataclass(frozen=True, slots=True)
class DuePair:
    """A date field and the datetime field that, when set, says the moment on that date."""

    date_field: str
    moment_field: str


PAIRS = {"task": DuePair("due_date", "due_at")}


def zone_of(conn: sa.Connection, user_id: str | None) -> ZoneInfo:
    """The zone `user_id` picked on their profile; UTC for nobody or an unknown zone."""
    if not user_id:
        return ZoneInfo("UTC")
    name = conn.execute(sa.select(user_preferences.c.time_zone).where(
        user_preferences.c.user_id == user_id)).scalar_one_or_none()
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_step(pair: DuePair, current: Mapping[str, Any] | None, planned: Mapping[str, Any],
            zone: ZoneInfo) -> dict[str, Any]:
    """What to add to `planned` (Python values, already normalized) so that the record
    `current` (None on create) with `planned` applied has its date and moment agree."""
    day, moment = pair.date_field, pair.moment_field
    before = current or {}
    if moment in planned:
        new_moment = planned[moment]
        if new_moment is None:
            return {}  # an all-day task of the date it has
        local_day = _aware(new_moment).astimezone(zone).date()
        would_be = planned[day] if day in planned else before.get(day)
        return {} if would_be == local_day else {day: local_day}
    if day not in planned or before.get(moment) is None:
        return {}
    new_day = planned[day]
    if new_day is None:
        return {moment: None}
    wall = _aware(before[moment]).astimezone(zone)
    moved = datetime.combine(new_day, wall.time(), zone).astimezone(UTC)
    return {} if moved == _aware(before[moment]) else {moment: moved}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _normalized(registry: FieldTypeRegistry, definition: EntityDef, pair: DuePair,
                planned: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pair's planned values as Python values; None when one does not validate (the
    repository then refuses it with its pointer)."""
    values: dict[str, Any] = {}
    for name in (pair.date_field, pair.moment_field):
        if name not in planned:
            continue
        raw = planned[name]
        fdef = definition.field(name)
        if raw is None or fdef is None:
            values[name] = None
            continue
        try:
            values[name] = registry.get(fdef.type).normalize(fdef, raw)
        except (FieldValueError, ValueError, TypeError):
            return None
    return values


class DueMomentSaves:
    """`SaveInterceptors` keeping each `PAIRS` entity's date and moment in step, after
    `inner` (the hooks installed before it)."""

    def __init__(self, records: RecordsService, inner: SaveInterceptors) -> None:
        self._records = records
        self._inner = inner

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        earlier = self._inner.hook(conn, subject, entity)
        pair = PAIRS.get(entity)
        definition = self._records.runtime().model.entity(entity) if pair else None
        if pair is None or definition is None or not _fits(definition, pair):
            return earlier
        registry = self._records.registry

        def keep_in_step(current: Record | None, planned: Mapping[str, Any]
                         ) -> Mapping[str, Any]:
            values = _normalized(registry, definition, pair, planned)
            if values is None:
                return {}
            owner = planned.get(OWNER) or (current or {}).get(OWNER) or subject.user_id
            added = in_step(pair, current, values, zone_of(conn, str(owner) if owner else None))
            return {name: None if value is None else _json(registry, definition, name, value)
                    for name, value in added.items()}

        return chained(earlier, keep_in_step)


def _fits(definition: EntityDef, pair: DuePair) -> bool:
    day, moment = definition.field(pair.date_field), definition.field(pair.moment_field)
    return day is not None and day.type == "date" and moment is not None \
        and moment.type == "datetime"


def _json(registry: FieldTypeRegistry, definition: EntityDef, name: str, value: Any) -> Any:
    fdef = definition.field(name)
    assert fdef is not None
    return registry.get(fdef.type).to_json(fdef, value)


def install(services: Services) -> None:
    """Keep the pairs in step on every save (after the lookup defaults)."""
    services.records.defaults = DueMomentSaves(services.records, services.records.defaults)

