"""Which business calendar a deadline counts in, with its country's public holidays.

A `business_calendar` document is assigned to teams; a record's deadline counts in the
calendar of its owner's team (a direct membership; teams in name order, the first with a
calendar wins). Without one, the default: Monday to Friday 09:00–18:00 UTC, without the
public holidays of the `country` the rule names (if any), as `business_days` always did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, time
from functools import lru_cache

import holidays

from metacrm.automation.business_days import holiday_checker
from metacrm.kernel.business_time import BusinessCalendar, day_intervals, weekly
from metacrm.metadata.model import BusinessCalendarDef, CompiledModel

DEFAULT_DAY = day_intervals(time(9), time(18))
DEFAULT_WEEK = weekly({day: DEFAULT_DAY for day in ("mon", "tue", "wed", "thu", "fri")})


@lru_cache(maxsize=64)
def _subdivision_holidays(country: str, subdivision: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision)


def _holiday_test(country: str | None, subdivision: str | None) -> Callable[[date], bool]:
    if country and subdivision:
        calendar = _subdivision_holidays(country, subdivision)
        return lambda day: day in calendar
    return holiday_checker(country)


def default_calendar(country: str | None = None) -> BusinessCalendar:
    """Monday to Friday 09:00–18:00 UTC, without `country`'s public holidays."""
    return BusinessCalendar("UTC", DEFAULT_WEEK, holiday=holiday_checker(country))


def runtime_calendar(definition: BusinessCalendarDef) -> BusinessCalendar:
    """The compiled calendar with its country's public holidays."""
    if not definition.country:
        return definition.calendar
    return replace(definition.calendar,
                   holiday=_holiday_test(definition.country, definition.subdivision))


def calendar_of_teams(model: CompiledModel, teams: Sequence[str]
                      ) -> BusinessCalendarDef | None:
    """The calendar of the first of `teams` (in name order) that has one."""
    for team in sorted(teams):
        for definition in model.calendars.values():
            if team in definition.teams:
                return definition
    return None
