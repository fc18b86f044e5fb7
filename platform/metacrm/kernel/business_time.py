"""Business time: working hours per weekday with breaks, holidays and a time zone.

A `BusinessCalendar` answers the questions deadlines ask: what instant is N business hours
(or N business days) after this one, and how much business time lies between two instants.
Everything is computed on aware instants; working hours are wall-clock times in the
calendar's zone, so a Monday 09:00 opening is 09:00 local on both sides of a DST change (a
working day that crosses the change is an hour shorter or longer, as the clock on the wall).

Working intervals are half-open `[start, end)`; adding business time may end exactly at an
interval's end (Friday 17:00 + 1 hour on 09:00–18:00 is Friday 18:00, not Monday 09:00).
Adding zero moves an instant outside working time to the next opening.

Pure: no I/O, no Flask or SQLAlchemy. Holidays come in as dates and as a test (`holiday`),
so the `holidays` package stays outside the kernel (`automation/business_days.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS_SEARCHED = 3660 * 2
"""How many calendar days an answer may span (about twenty years) before giving up: a
calendar whose every working day is a holiday would otherwise never answer."""
MAX_BUSINESS_DAYS = 3650
DAYS_CACHED = 4096


class CalendarError(ValueError):
    """A calendar that cannot be built (an unknown zone, an interval ending before it
    starts, no working time in the week) or a question it cannot answer."""


@dataclass(frozen=True, slots=True)
class WorkingInterval:
    """Working time within one day, wall clock, `start` before `end`; an `end` of None is
    midnight at the end of the day."""

    start: time
    end: time | None

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise CalendarError(f"working time must end after it starts "
                                f"({self.start:%H:%M}–{self.end:%H:%M})")


def day_intervals(opens: time, closes: time | None,
                  breaks: Sequence[tuple[time, time]] = ()) -> tuple[WorkingInterval, ...]:
    """The working intervals of a day open from `opens` to `closes` (None: midnight) with
    `breaks` taken out; a break outside the opening hours, or overlapping another, is
    refused."""
    WorkingInterval(opens, closes)
    pieces: list[WorkingInterval] = []
    cursor = opens
    for start, end in sorted(breaks):
        if end <= start:
            raise CalendarError(f"the break {start:%H:%M}–{end:%H:%M} ends before it starts")
        if start < cursor or (closes is not None and end > closes):
            raise CalendarError(f"the break {start:%H:%M}–{end:%H:%M} is outside the "
                                "working hours or overlaps another break")
        if start > cursor:
            pieces.append(WorkingInterval(cursor, start))
        cursor = end
    if closes is None or cursor < closes:
        pieces.append(WorkingInterval(cursor, closes))
    return tuple(pieces)


def _never(_day: date) -> bool:
    return False


@dataclass(frozen=True)
class BusinessCalendar:
    """Working intervals per weekday (Monday first), holidays, a time zone."""

    time_zone: str
    week: tuple[tuple[WorkingInterval, ...], ...]
    holiday_dates: frozenset[date] = frozenset()
    holiday: Callable[[date], bool] = field(default=_never, compare=False)
    """Further holidays (a country's public holidays), as a test."""
    zone: ZoneInfo = field(init=False, compare=False, repr=False)
    _days: dict[date, list[tuple[datetime, datetime]]] = field(
        init=False, compare=False, repr=False, default_factory=dict)
    """Working intervals of the days asked about (`intervals`), at most `DAYS_CACHED`: SLA
    clocks measure the same days again and again."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "zone", ZoneInfo(self.time_zone))
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise CalendarError(f"unknown time zone {self.time_zone!r}") from error
        if len(self.week) != len(WEEKDAYS):
            raise CalendarError("the week needs the working hours of 7 days")
        if not any(self.week):
            raise CalendarError("the week has no working time")
        for intervals in self.week:
            for earlier, later in pairwise(intervals):
                if earlier.end is None or later.start < earlier.end:
                    raise CalendarError("the working intervals of a day must not overlap")

    # --- days ------------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        return day in self.holiday_dates or self.holiday(day)

    def is_working_day(self, day: date) -> bool:
        return bool(self.week[day.weekday()]) and not self.is_holiday(day)

    def add_days(self, start: date, days: int) -> date:
        """The working day `days` working days after `start` (before it when negative);
        `start` itself does not count, 0 returns it unchanged."""
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError("the number of business days must be a whole number")
        if abs(days) > MAX_BUSINESS_DAYS:
            raise CalendarError(f"at most {MAX_BUSINESS_DAYS} business days")
        step = timedelta(days=1 if days >= 0 else -1)
        remaining, day, searched = abs(days), start, 0
        while remaining:
            day += step
            searched += 1
            if searched > MAX_DAYS_SEARCHED:
                raise CalendarError("no working day within twenty years")
            if self.is_working_day(day):
                remaining -= 1
        return day

    def add_days_at(self, instant: datetime, days: int) -> datetime:
        """`days` working days after `instant`'s local day, at the same wall-clock time."""
        local = _aware(instant).astimezone(self.zone)
        day = self.add_days(local.date(), days)
        return _instant(day, local.time().replace(tzinfo=None), self.zone)

    # --- hours -----------------------------------------------------------------------------

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of a local day as UTC instants (none on a holiday)."""
        known = self._days.get(day)
        if known is None:
            if len(self._days) >= DAYS_CACHED:
                self._days.clear()
            known = self._days[day] = self._intervals(day)
        return known

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.is_holiday(day):
            return []
        found: list[tuple[datetime, datetime]] = []
        for interval in self.week[day.weekday()]:
            start = _instant(day, interval.start, self.zone)
            end = (_instant(day, interval.end, self.zone) if interval.end is not None
                   else _instant(day + timedelta(days=1), time(), self.zone))
            if found and start < found[-1][1]:
                start = found[-1][1]  # a DST change folded two intervals onto each other
            if end > start:
                found.append((start, end))
        return found

    def _from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals ending after `instant`, in order, clipped to start at it."""
        day = instant.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS_SEARCHED):
            for start, end in self.intervals(day):
                if end > instant:
                    yield max(start, instant), end
            day += timedelta(days=1)
        raise CalendarError("no working time within twenty years")

    def add(self, instant: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of working time after `instant` (UTC)."""
        if duration < timedelta(0):
            raise CalendarError("business time to add must not be negative")
        remaining = duration
        for start, end in self._from(_aware(instant).astimezone(UTC)):
            if remaining <= end - start:
                return start + remaining
            remaining -= end - start
        raise AssertionError("unreachable")  # pragma: no cover - _from raises first

    def add_hours(self, instant: datetime, hours: float) -> datetime:
        return self.add(instant, timedelta(hours=hours))

    def between(self, first: datetime, second: datetime) -> timedelta:
        """The working time from `first` to `second` (negative when `second` is earlier)."""
        a, b = _aware(first).astimezone(UTC), _aware(second).astimezone(UTC)
        if b < a:
            return -self.between(b, a)
        total = timedelta(0)
        for start, end in self._from(a):
            if start >= b:
                break
            total += min(end, b) - start
        return total

    def is_working_time(self, instant: datetime) -> bool:
        """Whether `instant` lies within a working interval (its end included)."""
        moment = _aware(instant).astimezone(UTC)
        local_day = moment.astimezone(self.zone).date()
        return any(start <= moment <= end
                   for day in (local_day - timedelta(days=1), local_day)
                   for start, end in self.intervals(day))


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError("an instant needs a time zone (naive datetimes are ambiguous)")
    return instant


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time in `zone`; a time the clock skips (a DST gap)
    is read with the offset before the change, so it lands after the gap."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def weekly(hours: dict[str, tuple[WorkingInterval, ...]]) -> tuple[tuple[WorkingInterval, ...],
                                                                    ...]:
    """The week from `{"mon": intervals, ...}` (missing days: no working time)."""
    unknown = set(hours) - set(WEEKDAYS)
    if unknown:
        raise CalendarError(f"unknown weekdays {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
    return tuple(hours.get(day, ()) for day in WEEKDAYS)
