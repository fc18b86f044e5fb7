"""`due_in` counts business hours and days in the business calendar of the new record's
owner's team (or one it names), with breaks, holidays and the calendar's time zone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from actions_harness import DOCUMENTS, LABEL, ActionsWorld, apply_documents

from database_harness import postgres_schema, schema_url
from metacrm.composition import build_services
from web_harness import settings_for

SUPPORT_HOURS = {"from": "09:00", "to": "18:00", "breaks": [{"from": "13:00", "to": "14:00"}]}
CALENDARS: list[dict[str, Any]] = [
    {"kind": "business_calendar", "name": "support_desk", "version": 1, "label": LABEL,
     "time_zone": "UTC", "teams": ["support"],
     "hours": {day: SUPPORT_HOURS for day in ("mon", "tue", "wed", "thu", "fri")}},
    {"kind": "business_calendar", "name": "berlin_office", "version": 1, "label": LABEL,
     "time_zone": "Europe/Berlin",
     "hours": {day: {"from": "09:00", "to": "17:00"} for day in ("mon", "tue", "wed", "thu",
                                                                  "fri")},
     "holidays": {"country": "DE", "subdivision": "BY", "dates": ["2026-12-31"]}},
]
FRIDAY_FIVE_PM = datetime(2026, 12, 4, 17, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionsWorld]:
    root = tmp_path_factory.mktemp("calendars")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'c.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        yield from _world(url, root)


def _world(url: str, root: Path) -> Iterator[ActionsWorld]:
    services = build_services(settings_for(url, root))
    try:
        apply_documents(services, [*DOCUMENTS, *CALENDARS])
        with services.engine.begin() as conn:
            services.teams.create_team(conn, "support")
            services.teams.add_member(conn, "support", "17")
        yield ActionsWorld(services)
    finally:
        services.close()


def due(world: ActionsWorld, due_in: dict[str, Any], *, owner: str, now: datetime) -> Any:
    lead = world.lead(owner=owner)
    result = world.run("create_record", {
        "entity": "task", "values": {"subject": "Answer"}, "due_in": due_in,
        "owner": "record_owner"}, lead, now=now)
    task = world.get("task", result["created"]["id"])
    return task[due_in["field"]]


def test_the_sla_example_counts_in_the_owners_team_calendar(world: ActionsWorld) -> None:
    # Friday 17:00 + 4 business hours on Mon–Fri 09:00–18:00 with a 13:00–14:00 break
    assert due(world, {"business_hours": 4, "field": "due_at"}, owner="17",
               now=FRIDAY_FIVE_PM) == "2026-12-07T12:00:00Z"


def test_without_a_team_calendar_business_hours_are_nine_to_six_utc(
        world: ActionsWorld) -> None:
    # no break in the default calendar: Friday 17:00 + 4 h = Monday 12:00 as well,
    # + 6 h = Monday 14:00 (the support calendar's break would make it 15:00)
    assert due(world, {"business_hours": 6, "field": "due_at"}, owner="99",
               now=FRIDAY_FIVE_PM) == "2026-12-07T14:00:00Z"
    assert due(world, {"business_hours": 6, "field": "due_at"}, owner="17",
               now=FRIDAY_FIVE_PM) == "2026-12-07T15:00:00Z"


def test_a_named_calendar_skips_its_holidays_in_its_time_zone(world: ActionsWorld) -> None:
    # Wed 23 Dec 2026 15:00 UTC = 16:00 Berlin; Bavaria's holidays 25th and 26th, the
    # weekend; + 3 business days: Thu 24, Mon 28, Tue 29
    assert due(world, {"business_days": 3, "field": "due_date", "calendar": "berlin_office"},
               owner="99", now=datetime(2026, 12, 23, 15, tzinfo=UTC)) == "2026-12-29"
    # 16:00 Berlin + 2 business hours: one hour on the 23rd, one on the 24th from 09:00
    assert due(world, {"business_hours": 2, "field": "due_at", "calendar": "berlin_office"},
               owner="99", now=datetime(2026, 12, 23, 15, tzinfo=UTC)) == \
        "2026-12-24T09:00:00Z"


@pytest.mark.parametrize(("due_in", "pointer", "message"), [
    ({"business_hours": 4, "field": "due_date"}, "/due_in/field", "need a datetime field"),
    ({"business_hours": -1, "field": "due_at"}, "/due_in/business_hours", "from 0"),
    ({"business_days": 1, "field": "due_date", "calendar": "mars"}, "/due_in/calendar",
     "berlin_office, support_desk"),
    ({"days": 1, "field": "due_date", "calendar": "support_desk"}, "/due_in/calendar",
     "only applies"),
    ({"days": 1, "business_hours": 1, "field": "due_at"}, "/due_in", "exactly one"),
])
def test_impossible_deadlines_are_refused_naming_the_key(
        world: ActionsWorld, due_in: dict[str, Any], pointer: str, message: str) -> None:
    errors = world.check("create_record", {"entity": "task", "values": {"subject": "x"},
                                           "due_in": due_in})

    assert any(e.pointer == pointer and message in e.message for e in errors), errors
