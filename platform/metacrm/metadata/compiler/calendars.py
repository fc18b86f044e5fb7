"""Compile `business_calendar` documents: working hours with breaks, holidays, time zone.

Each document becomes a kernel `BusinessCalendar` (so a calendar that compiles can answer
every question) plus its country and teams. Checked here: the time zone exists, every day
closes after it opens, breaks lie within the day and do not overlap, the country has a
public holiday calendar, explicit dates are real dates, and no team has two calendars.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import Any

import holidays

from metacrm.kernel.business_time import (
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
    WorkingInterval,
    day_intervals,
    weekly,
)
from metacrm.metadata.compiler.context import CompileContext, Reporter
from metacrm.metadata.compiler.freeze import labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import BusinessCalendarDef, SourceRef

MIDNIGHT = "24:00"
_PLACEHOLDER = BusinessCalendar("UTC", weekly({"mon": (WorkingInterval(time(9), time(17)),)}))
"""Stands in for a calendar with errors (the model is not produced then anyway)."""


def _clock(text: str) -> time | None:
    """A HH:MM wall-clock time; None for 24:00 (midnight at the end of the day)."""
    return None if text == MIDNIGHT else time.fromisoformat(text)


def _day(raw: Mapping[str, Any], pointer: str, report: Reporter
         ) -> tuple[WorkingInterval, ...]:
    opens = _clock(str(raw["from"]))
    if opens is None:
        report.error("a working day cannot open at 24:00", f"{pointer}/from")
        return ()
    breaks = []
    for index, pause in enumerate(raw.get("breaks", ())):
        start, end = _clock(str(pause["from"])), _clock(str(pause["to"]))
        if start is None or end is None:
            report.error("a break ends by 23:59", f"{pointer}/breaks/{index}")
            return ()
        breaks.append((start, end))
    try:
        return day_intervals(opens, _clock(str(raw["to"])), breaks)
    except CalendarError as error:
        report.error(str(error), pointer)
        return ()


def _dates(raw: Any, pointer: str, report: Reporter) -> frozenset[date]:
    found = set()
    for index, text in enumerate(raw or ()):
        try:
            found.add(date.fromisoformat(str(text)))
        except ValueError:
            report.error(f"{text!r} is not a date", f"{pointer}/{index}")
    return frozenset(found)


def _country(raw: Mapping[str, Any], report: Reporter) -> tuple[str | None, str | None]:
    country = raw.get("country")
    subdivision = raw.get("subdivision")
    if country is None:
        if subdivision is not None:
            report.error("a subdivision needs a country", "/holidays/subdivision")
        return None, None
    code = str(country).upper()
    supported = holidays.list_supported_countries()
    if code not in supported:
        report.error(f"no public holiday calendar for country {country!r}",
                     "/holidays/country")
        return None, None
    if subdivision is not None and str(subdivision) not in supported[code]:
        report.error(f"{country} has no subdivision {subdivision!r}; known: "
                     + ", ".join(supported[code][:30]), "/holidays/subdivision")
        return code, None
    return code, (str(subdivision) if subdivision is not None else None)


def build_calendar(document: Document, context: CompileContext) -> BusinessCalendarDef:
    body = document.body
    report = context.reporter(document.source)
    errors_before = len(report.errors)
    hours = {day: _day(raw, f"/hours/{day}", report)
             for day, raw in body["hours"].items() if day in WEEKDAYS}
    raw_holidays = body.get("holidays") or {}
    dates = _dates(raw_holidays.get("dates"), "/holidays/dates", report)
    country, subdivision = _country(raw_holidays, report)
    calendar = _PLACEHOLDER
    if len(report.errors) == errors_before:
        try:
            calendar = BusinessCalendar(str(body["time_zone"]), weekly(hours),
                                        holiday_dates=dates)
        except CalendarError as error:
            pointer = "/time_zone" if "time zone" in str(error) else "/hours"
            report.error(str(error), pointer)
    return BusinessCalendarDef(
        name=document.name, label=labels(body.get("label")), calendar=calendar,
        country=country, subdivision=subdivision, teams=names(body.get("teams")),
        description=labels(body.get("description")), pack=document.pack,
        source=SourceRef(document.source))


def check_calendar_teams(calendars: Mapping[str, BusinessCalendarDef],
                         context: CompileContext) -> None:
    """A team works by one calendar: a second one naming it is an error."""
    owner: dict[str, str] = {}
    for calendar in calendars.values():
        for index, team in enumerate(calendar.teams):
            first = owner.setdefault(team, calendar.name)
            if first != calendar.name:
                context.reporter(calendar.source.file).error(
                    f"team '{team}' already works by calendar '{first}'", f"/teams/{index}")
