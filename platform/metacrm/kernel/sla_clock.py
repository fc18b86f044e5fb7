"""SLA clocks: how much of a target a ticket has used, when it falls due, whether it broke.

A ticket's history is stored as **segments**: from an instant on, the clock either runs or
is paused (a pending state). Business time is never stored — it is measured from the
segments on the calendar each time — so a pause recorded late, or a calendar whose hours or
holidays change, gives the exact new answer on the next reading (the Frappe Helpdesk
bugs of hold time counted twice over off-hours, or a pause over lunch, cannot happen:
a paused segment simply contributes nothing, and the calendar alone decides what is
working time).

Pure: no I/O, no Flask or SQLAlchemy; `BusinessCalendar` does the calendar arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from metacrm.kernel.business_time import BusinessCalendar, CalendarError

_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Segment:
    """From `start` until the next segment's start (or for ever), the clock runs or is
    `paused`."""

    start: datetime
    paused: bool = False

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise CalendarError("a segment's start needs a time zone")

    def as_json(self) -> list[object]:
        return [self.start.astimezone(UTC).isoformat(), self.paused]

    @classmethod
    def from_json(cls, raw: object) -> Segment:
        """A segment from its JSON form `[iso instant, paused]`; ValueError when malformed."""
        if not isinstance(raw, list | tuple) or len(raw) != 2 or not isinstance(raw[1], bool):
            raise ValueError(f"not a clock segment: {raw!r}")
        return cls(datetime.fromisoformat(str(raw[0])), raw[1])


@dataclass(frozen=True, slots=True)
class ClockReading:
    """One target's clock at a moment.

    `due` is None while the clock is paused (it cannot be known until it runs again) and
    when the target was met; `remaining` is negative once breached; `stopped_at` is when
    the target was met (a first response, a resolution)."""

    target: timedelta
    elapsed: timedelta
    paused_for: timedelta
    remaining: timedelta
    due: datetime | None
    paused: bool
    breached: bool
    stopped_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "target_minutes": _minutes(self.target),
            "elapsed_minutes": _minutes(self.elapsed),
            "paused_minutes": _minutes(self.paused_for),
            "remaining_minutes": _minutes(self.remaining),
            "due": self.due.astimezone(UTC).isoformat() if self.due else None,
            "paused": self.paused,
            "breached": self.breached,
            "met_at": self.stopped_at.astimezone(UTC).isoformat() if self.stopped_at else None,
        }


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 2)


def normalized(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    """Segments in time order with repeats of the same state merged (a segment that starts
    where another starts replaces it: the later record of that moment wins)."""
    by_start: dict[datetime, Segment] = {}
    for segment in segments:
        by_start[segment.start.astimezone(UTC)] = Segment(segment.start.astimezone(UTC),
                                                          segment.paused)
    ordered = [by_start[key] for key in sorted(by_start)]
    merged: list[Segment] = []
    for segment in ordered:
        if merged and merged[-1].paused == segment.paused:
            continue
        merged.append(segment)
    return tuple(merged)


def with_state(segments: Sequence[Segment], at: datetime, paused: bool) -> tuple[Segment, ...]:
    """The segments after the clock was paused or resumed at `at` (no change when it
    already was in that state)."""
    return normalized((*segments, Segment(at, paused)))


def _spans(ordered: Sequence[Segment], until: datetime
           ) -> Iterable[tuple[datetime, datetime, bool]]:
    """(start, end, paused) of each of the `normalized` segments, cut at `until`."""
    bounded = [*ordered, Segment(max(until, ordered[-1].start) if ordered else until)]
    for current, following in pairwise(bounded):
        end = min(following.start, until)
        if end > current.start:
            yield current.start, end, current.paused


def read_clock(calendar: BusinessCalendar, segments: Sequence[Segment], target: timedelta,
               now: datetime, *, stopped_at: datetime | None = None) -> ClockReading:
    """The clock of `target` business time over `segments` at `now`; `stopped_at` is when
    the target was met (a first response, a resolution), which ends the history.

    `due` is the instant the running time reaches the target: known once it lies within the
    history, else projected from the end of the history when the clock runs, None while it
    is paused or once the target was met in time. Breached: the target was reached before
    the end of the history (met late, or still open after `due`)."""
    if target < _ZERO:
        raise CalendarError("a target must not be negative")
    ordered = normalized(segments)
    if not ordered:
        raise CalendarError("a clock needs at least one segment (when it started)")
    end = max(stopped_at if stopped_at is not None else now, ordered[0].start)
    elapsed = paused_for = _ZERO
    due: datetime | None = None
    for start, stop, paused in _spans(ordered, end):
        worked = calendar.between(start, stop)
        if paused:
            paused_for += worked
            continue
        if due is None and worked > _ZERO and elapsed + worked >= target:
            due = calendar.add(start, target - elapsed)
        elapsed += worked
    running_now = not _state_at(ordered, end)
    if due is None and stopped_at is None and running_now:
        due = calendar.add(end, target - elapsed)
    breached = due is not None and due < end
    if stopped_at is not None and not breached:
        due = None
    return ClockReading(target=target, elapsed=elapsed, paused_for=paused_for,
                        remaining=target - elapsed, due=due,
                        paused=stopped_at is None and not running_now,
                        breached=breached, stopped_at=stopped_at)


def _state_at(ordered: Sequence[Segment], instant: datetime) -> bool:
    """Whether the clock is paused at `instant` (the last segment started by then)."""
    paused = ordered[0].paused
    for segment in ordered:
        if segment.start > instant:
            break
        paused = segment.paused
    return paused


def warning_at(calendar: BusinessCalendar, segments: Sequence[Segment], target: timedelta,
               before: timedelta, now: datetime) -> datetime | None:
    """When the warning `before` a breach falls due: the instant `target - before` of
    running time is used up (None while paused; immediately for a warning as long as the
    target)."""
    return read_clock(calendar, segments, max(target - before, _ZERO), now).due

