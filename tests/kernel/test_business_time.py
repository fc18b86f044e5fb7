"""Business time: N business hours/days after an instant, business time between two,
with breaks, holidays, time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metacrm.kernel.business_time import (
    BusinessCalendar,
    CalendarError,
    WorkingInterval,
    day_intervals,
    weekly,
)

NINE, ONE, TWO, SIX = time(9), time(13), time(14), time(18)
OFFICE_DAY = day_intervals(NINE, SIX, [(ONE, TWO)])
OFFICE = BusinessCalendar("UTC", weekly({d: OFFICE_DAY for d in
                                         ("mon", "tue", "wed", "thu", "fri")}))
BERLIN = BusinessCalendar("Europe/Berlin", OFFICE.week,
                          holiday_dates=frozenset({date(2026, 12, 25), date(2026, 12, 24)}))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_sla_example_friday_five_pm_plus_four_hours_is_monday_noon() -> None:
    friday = utc(2026, 12, 4, 17)

    assert OFFICE.add_hours(friday, 4) == utc(2026, 12, 7, 12)


def test_the_lunch_break_is_not_working_time() -> None:
    assert OFFICE.add_hours(utc(2026, 12, 7, 12), 2) == utc(2026, 12, 7, 15)
    assert OFFICE.between(utc(2026, 12, 7, 12), utc(2026, 12, 7, 15)) == timedelta(hours=2)
    assert not OFFICE.is_working_time(utc(2026, 12, 7, 13, 30))


def test_adding_ends_at_closing_time_rather_than_the_next_opening() -> None:
    assert OFFICE.add_hours(utc(2026, 12, 4, 17), 1) == utc(2026, 12, 4, 18)


def test_adding_nothing_outside_working_time_moves_to_the_next_opening() -> None:
    assert OFFICE.add(utc(2026, 12, 5, 10), timedelta(0)) == utc(2026, 12, 7, 9)
    assert OFFICE.add(utc(2026, 12, 7, 10), timedelta(0)) == utc(2026, 12, 7, 10)


def test_holidays_are_skipped_and_hours_are_wall_clock_in_the_zone() -> None:
    # Wed 23 Dec 2026 17:00 Berlin (16:00 UTC) + 2 h: 24th and 25th are holidays,
    # Sat/Sun off, so Mon 28 Dec 10:00 Berlin = 09:00 UTC
    start = datetime(2026, 12, 23, 17, tzinfo=ZoneInfo("Europe/Berlin"))

    assert BERLIN.add_hours(start, 2) == utc(2026, 12, 28, 9)


def test_a_working_day_across_a_dst_change_follows_the_wall_clock() -> None:
    # Sunday 29 March 2026: Berlin moves from UTC+1 to UTC+2; Friday 18:00 CET is 17:00
    # UTC, Monday 09:00 CEST is 07:00 UTC
    assert BERLIN.add_hours(utc(2026, 3, 27, 16), 2) == utc(2026, 3, 30, 8)
    assert BERLIN.between(utc(2026, 3, 27, 16), utc(2026, 3, 30, 8)) == timedelta(hours=2)


def test_business_days_skip_weekends_and_holidays() -> None:
    assert BERLIN.add_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert BERLIN.add_days(date(2026, 12, 28), -1) == date(2026, 12, 23)
    assert OFFICE.add_days(date(2026, 12, 4), 0) == date(2026, 12, 4)
    assert OFFICE.add_days_at(utc(2026, 12, 4, 15, 30), 1) == utc(2026, 12, 7, 15, 30)


def test_a_country_holiday_test_counts_as_holidays() -> None:
    closed_on_mondays = BusinessCalendar("UTC", OFFICE.week,
                                         holiday=lambda day: day.weekday() == 0)

    assert closed_on_mondays.add_hours(utc(2026, 12, 4, 17), 4) == utc(2026, 12, 8, 12)


def test_time_between_is_negative_backwards() -> None:
    assert OFFICE.between(utc(2026, 12, 7, 12), utc(2026, 12, 4, 17)) == -timedelta(hours=4)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: BusinessCalendar("Mars/Olympus", OFFICE.week), "unknown time zone"),
    (lambda: BusinessCalendar("UTC", weekly({})), "no working time"),
    (lambda: weekly({"monday": OFFICE_DAY}), "unknown weekdays"),
    (lambda: WorkingInterval(SIX, NINE), "must end after it starts"),
    (lambda: day_intervals(NINE, SIX, [(time(8), time(10))]), "outside the working hours"),
    (lambda: day_intervals(NINE, SIX, [(time(10), time(12)), (time(11), ONE)]), "overlaps"),
    (lambda: OFFICE.add(datetime(2026, 1, 1), timedelta(hours=1)), "needs a time zone"),
    (lambda: OFFICE.add(utc(2026, 1, 1), timedelta(hours=-1)), "must not be negative"),
])
def test_impossible_calendars_and_questions_are_refused(build: object, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        build()  # type: ignore[operator]


def test_a_calendar_of_only_holidays_gives_up_instead_of_looping() -> None:
    closed = BusinessCalendar("UTC", OFFICE.week, holiday=lambda _day: True)

    with pytest.raises(CalendarError, match="no working time"):
        closed.add_hours(utc(2026, 1, 1), 1)


def test_a_day_open_until_midnight() -> None:
    late = BusinessCalendar("UTC", weekly({"sat": day_intervals(time(20), None)}))

    assert late.add_hours(utc(2026, 12, 5, 23), 2) == utc(2026, 12, 12, 21)


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
                         "Australia/Lord_Howe"])
INSTANTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                        timezones=st.just(UTC))
DURATIONS = st.integers(min_value=0, max_value=400 * 60).map(lambda m: timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(zone=ZONES, start=INSTANTS, duration=DURATIONS)
def test_adding_then_measuring_is_the_identity(zone: str, start: datetime,
                                              duration: timedelta) -> None:
    calendar = BusinessCalendar(zone, BERLIN.week, holiday_dates=BERLIN.holiday_dates)

    end = calendar.add(start, duration)

    assert end >= start
    assert calendar.between(start, end) == duration
    assert calendar.is_working_time(end)


@settings(max_examples=100, deadline=None)
@given(zone=ZONES, start=INSTANTS, days=st.integers(min_value=-300, max_value=300))
def test_business_days_land_on_working_days_and_go_back(zone: str, start: datetime,
                                                        days: int) -> None:
    calendar = BusinessCalendar(zone, BERLIN.week, holiday_dates=BERLIN.holiday_dates)
    day = start.date()

    later = calendar.add_days(day, days)

    if days:
        assert calendar.is_working_day(later)
    if calendar.is_working_day(day):
        assert calendar.add_days(later, -days) == day
