"""`business_calendar` documents: working hours with breaks, holidays, a time zone, teams."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from metadata_builders import compile_errors, compiled, document, find, labels

from metacrm.automation.business_calendars import runtime_calendar
from metacrm.fieldtypes import FieldTypeRegistry

WEEKDAY = {"from": "09:00", "to": "18:00", "breaks": [{"from": "13:00", "to": "14:00"}]}


def calendar(name: str = "office", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"label": labels(), "time_zone": "Europe/Moscow",
                            "hours": {day: WEEKDAY for day in ("mon", "tue", "wed", "thu",
                                                               "fri")}}
    body.update(extra)
    return document("business_calendar", name, **body)


def test_a_calendar_compiles_into_business_time(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, calendar(teams=["north"],
                                        holidays={"country": "RU", "dates": ["2026-12-31"]}))

    office = model.calendars["office"]
    assert (office.country, office.teams) == ("RU", ("north",))
    # Thursday 30 Dec 17:00 Moscow (14:00 UTC) + 2 h: the 31st is a company holiday and
    # 1–8 January are Russian public holidays (added at run time from the country)
    assert office.calendar.add_hours(datetime(2026, 12, 30, 14, tzinfo=UTC), 2) == \
        datetime(2027, 1, 1, 7, tzinfo=UTC)
    assert office.calendar.is_holiday(date(2026, 12, 31))
    with_country = runtime_calendar(office)
    assert with_country.add_hours(datetime(2026, 12, 30, 14, tzinfo=UTC), 2) == \
        datetime(2027, 1, 11, 7, tzinfo=UTC)


@pytest.mark.parametrize(("extra", "pointer", "message"), [
    ({"time_zone": "Mars/Olympus"}, "/time_zone", "unknown time zone"),
    ({"hours": {"mon": {"from": "18:00", "to": "09:00"}}}, "/hours/mon", "end after it starts"),
    ({"hours": {"mon": {"from": "09:00", "to": "18:00",
                        "breaks": [{"from": "08:00", "to": "10:00"}]}}},
     "/hours/mon", "outside the working hours"),
    ({"holidays": {"country": "XX"}}, "/holidays/country", "no public holiday calendar"),
    ({"holidays": {"country": "DE", "subdivision": "ZZ"}}, "/holidays/subdivision",
     "has no subdivision"),
    ({"holidays": {"dates": ["2026-02-30"]}}, "/holidays/dates/0", "is not a date"),
])
def test_impossible_calendars_are_errors_at_their_pointer(
        registry: FieldTypeRegistry, extra: dict[str, Any], pointer: str,
        message: str) -> None:
    errors = compile_errors(registry, calendar(**extra))

    assert message in find(errors, "test/office.json", pointer).message


def test_a_team_works_by_one_calendar(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, calendar("a", teams=["north"]),
                            calendar("b", teams=["south", "north"]))

    assert "team 'north' already works by calendar 'a'" in find(
        errors, "test/b.json", "/teams/1").message


def test_the_schema_refuses_unknown_weekdays_and_clock_times(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, calendar(hours={"monday": WEEKDAY}),
                            calendar("late", hours={"mon": {"from": "9:00", "to": "25:00"}}))

    assert any(e.pointer.startswith("/hours") for e in errors if e.source == "test/office.json")
    assert any(e.pointer.startswith("/hours/mon") for e in errors if e.source == "test/late.json")
