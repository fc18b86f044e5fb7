"""SLA clocks over business-time segments: due dates, pauses, breaches, recomputation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metacrm.kernel.business_time import BusinessCalendar, CalendarError, day_intervals, weekly
from metacrm.kernel.sla_clock import Segment, normalized, read_clock, warning_at, with_state

OFFICE = BusinessCalendar("UTC", weekly({d: day_intervals(time(9), time(18),
                                                          [(time(13), time(14))])
                                         for d in ("mon", "tue", "wed", "thu", "fri")}))
MOSCOW = BusinessCalendar("Europe/Moscow", OFFICE.week)
BERLIN = BusinessCalendar("Europe/Berlin", OFFICE.week)
FRIDAY_5PM = datetime(2026, 12, 4, 17, tzinfo=UTC)
HOURS_4 = timedelta(hours=4)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_friday_five_pm_with_four_business_hours_is_due_monday_noon() -> None:
    reading = read_clock(OFFICE, [Segment(FRIDAY_5PM)], HOURS_4, FRIDAY_5PM)

    assert reading.due == utc(2026, 12, 7, 12)
    assert reading.remaining == HOURS_4 and not reading.breached and not reading.paused


def test_a_two_business_hour_pause_moves_the_due_time_by_two_business_hours() -> None:
    # pending customer Monday 09:00-11:00: two business hours; noon + 2 business hours
    # over the 13:00-14:00 break is 15:00
    segments = [Segment(FRIDAY_5PM), Segment(utc(2026, 12, 7, 9), paused=True),
                Segment(utc(2026, 12, 7, 11))]

    reading = read_clock(OFFICE, segments, HOURS_4, utc(2026, 12, 7, 11, 30))

    assert reading.paused_for == timedelta(hours=2)
    assert reading.due == utc(2026, 12, 7, 15)


def test_a_pause_over_lunch_and_the_weekend_counts_only_working_time() -> None:
    # paused Friday 17:30 to Monday 13:30: 30 min Friday + 4 h Monday morning
    segments = [Segment(FRIDAY_5PM), Segment(utc(2026, 12, 4, 17, 30), paused=True),
                Segment(utc(2026, 12, 7, 13, 30))]

    reading = read_clock(OFFICE, segments, HOURS_4, utc(2026, 12, 7, 14))

    assert reading.paused_for == timedelta(hours=4, minutes=30)
    assert reading.elapsed == timedelta(minutes=30)
    assert reading.due == utc(2026, 12, 7, 17, 30)


def test_while_paused_there_is_no_due_time_and_the_remaining_time_stands_still() -> None:
    segments = [Segment(FRIDAY_5PM), Segment(utc(2026, 12, 7, 10), paused=True)]

    reading = read_clock(OFFICE, segments, HOURS_4, utc(2026, 12, 9, 10))

    assert reading.paused and reading.due is None
    assert reading.remaining == timedelta(hours=2) and not reading.breached


def test_a_clock_past_its_due_time_is_breached_and_a_late_answer_stays_breached() -> None:
    late = read_clock(OFFICE, [Segment(FRIDAY_5PM)], HOURS_4, utc(2026, 12, 7, 12, 1))
    met_late = read_clock(OFFICE, [Segment(FRIDAY_5PM)], HOURS_4, utc(2026, 12, 9),
                          stopped_at=utc(2026, 12, 7, 15))
    met = read_clock(OFFICE, [Segment(FRIDAY_5PM)], HOURS_4, utc(2026, 12, 9),
                     stopped_at=utc(2026, 12, 7, 11))

    assert late.breached and late.remaining < timedelta(0) and late.due == utc(2026, 12, 7, 12)
    assert met_late.breached and met_late.due == utc(2026, 12, 7, 12)
    assert not met.breached and met.due is None and met.remaining == timedelta(hours=1)


def test_a_calendar_change_recomputes_from_the_same_segments() -> None:
    segments = [Segment(FRIDAY_5PM)]

    assert read_clock(OFFICE, segments, HOURS_4, FRIDAY_5PM).due == utc(2026, 12, 7, 12)
    # Moscow is UTC+3: Friday 17:00 UTC is 20:00 there, after hours: Monday 09:00-13:00 local
    assert read_clock(MOSCOW, segments, HOURS_4, FRIDAY_5PM).due == utc(2026, 12, 7, 10)


def test_the_warning_falls_due_the_given_business_time_before_the_breach() -> None:
    at = warning_at(OFFICE, [Segment(FRIDAY_5PM)], HOURS_4, timedelta(hours=1), FRIDAY_5PM)

    assert at == utc(2026, 12, 7, 11)


def test_segments_round_trip_through_json_and_bad_ones_are_refused() -> None:
    segment = Segment(FRIDAY_5PM, paused=True)

    assert Segment.from_json(segment.as_json()) == segment
    with pytest.raises(ValueError):
        Segment.from_json(["2026-12-04T17:00:00+00:00"])
    with pytest.raises(CalendarError):
        Segment(datetime(2026, 12, 4, 17))
    with pytest.raises(CalendarError):
        read_clock(OFFICE, [], HOURS_4, FRIDAY_5PM)


# --- properties ------------------------------------------------------------------------

START = utc(2026, 1, 1)
instants = st.integers(min_value=0, max_value=60 * 24 * 120).map(
    lambda minutes: START + timedelta(minutes=minutes))
calendars = st.sampled_from([OFFICE, MOSCOW, BERLIN])
targets = st.integers(min_value=0, max_value=60 * 60).map(lambda m: timedelta(minutes=m))


@st.composite
def histories(draw: st.DrawFn) -> list[Segment]:
    moments = sorted(set(draw(st.lists(instants, min_size=1, max_size=8))))
    return [Segment(moment, paused=index > 0 and draw(st.booleans()))
            for index, moment in enumerate(moments)]


@settings(max_examples=150, deadline=None)
@given(calendars, histories(), targets, instants)
def test_running_and_paused_time_add_up_to_the_business_time_since_the_start(
        calendar: BusinessCalendar, segments: list[Segment], target: timedelta,
        now: datetime) -> None:
    reading = read_clock(calendar, segments, target, now)
    start = segments[0].start

    assert reading.elapsed + reading.paused_for == calendar.between(start, max(now, start))
    assert reading.elapsed + reading.remaining == target


@settings(max_examples=150, deadline=None)
@given(calendars, histories(), targets, instants)
def test_the_due_time_is_where_running_time_reaches_the_target(
        calendar: BusinessCalendar, segments: list[Segment], target: timedelta,
        now: datetime) -> None:
    now = max(now, segments[-1].start)  # segments are history: none start in the future
    reading = read_clock(calendar, segments, target, now)

    if reading.due is not None:
        # measured at the due time (clock extended as it runs), exactly the target is used
        at_due = read_clock(calendar, segments, target, reading.due)
        assert at_due.elapsed == target
        assert reading.breached == (reading.due < now)
    else:
        assert reading.paused and reading.elapsed <= target


@settings(max_examples=150, deadline=None)
@given(calendars, histories(), targets, instants, st.randoms(use_true_random=False))
def test_the_reading_does_not_depend_on_the_order_or_repeats_of_segments(
        calendar: BusinessCalendar, segments: list[Segment], target: timedelta,
        now: datetime, shuffler: random.Random) -> None:
    repeated = [*segments, *(Segment(s.start + timedelta(seconds=1), s.paused)
                             for s in segments[:1] if len(segments) == 1 or
                             segments[1].start > s.start + timedelta(seconds=1))]
    shuffler.shuffle(repeated)

    assert normalized(repeated) == normalized(segments)
    assert read_clock(calendar, repeated, target, now) == read_clock(calendar, segments,
                                                                     target, now)


@settings(max_examples=150, deadline=None)
@given(calendars, targets, instants, st.integers(min_value=1, max_value=60 * 24 * 5),
       st.integers(min_value=0, max_value=60 * 24 * 5))
def test_a_pause_delays_the_due_time_by_exactly_its_business_time(
        calendar: BusinessCalendar, target: timedelta, start: datetime, offset: int,
        length: int) -> None:
    paused_at = start + timedelta(minutes=offset)
    resumed_at = paused_at + timedelta(minutes=length)
    plain = read_clock(calendar, [Segment(start)], target, start)
    assert plain.due is not None
    if plain.due <= paused_at:
        return  # paused after the due time: nothing to shift
    segments = with_state(with_state([Segment(start)], paused_at, True), resumed_at, False)

    shifted = read_clock(calendar, segments, target, resumed_at)
    pause = calendar.between(paused_at, resumed_at)

    used_before = calendar.between(start, paused_at)
    assert shifted.due == calendar.add(resumed_at, target - used_before)
    assert calendar.between(start, shifted.due) - pause == target
