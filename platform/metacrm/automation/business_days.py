"""Business days: Monday to Friday, optionally without a country's public holidays.

"Due in 2 business days" from a Friday is the Tuesday after. Holidays come from the
`holidays` package (offline data, no network) when a `country` (ISO 3166 alpha-2, e.g.
`US`, `DE`, `RU`) is given; without one only weekends are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from datetime import date, timedelta
from functools import lru_cache

import holidays

SATURDAY = 5
MAX_BUSINESS_DAYS = 3650
"""A bound on how far a due date may be pushed (about 14 years of business days)."""


class UnknownCountry(ValueError):
    """The `holidays` package has no calendar for this country code."""


def supported_country(country: str) -> bool:
    """Whether public holidays are known for this country code."""
    return country.upper() in holidays.list_supported_countries()


@lru_cache(maxsize=64)
def _holiday_calendar(country: str) -> holidays.HolidayBase:
    if not supported_country(country):
        raise UnknownCountry(f"no public holiday calendar for country {country!r}")
    return holidays.country_holidays(country.upper())  # years are filled in when asked


def holiday_checker(country: str | None) -> Callable[[date], bool]:
    """A test `day -> is a public holiday` (always False without a country)."""
    if not country:
        return lambda _day: False
    calendar: Container[date] = _holiday_calendar(country)
    return lambda day: day in calendar


def is_business_day(day: date, country: str | None = None) -> bool:
    return day.weekday() < SATURDAY and not holiday_checker(country)(day)


def add_business_days(start: date, days: int, country: str | None = None) -> date:
    """The day `days` business days after `start` (before it when negative).

    `start` itself does not count: 1 business day after Friday is Monday, after Saturday
    also Monday. 0 returns `start` unchanged.
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("the number of business days must be a whole number")
    if abs(days) > MAX_BUSINESS_DAYS:
        raise ValueError(f"at most {MAX_BUSINESS_DAYS} business days")
    holiday = holiday_checker(country)
    step = timedelta(days=1 if days >= 0 else -1)
    remaining = abs(days)
    day = start
    while remaining:
        day += step
        if day.weekday() < SATURDAY and not holiday(day):
            remaining -= 1
    return day
