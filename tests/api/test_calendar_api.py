"""`GET /api/v1/calendar` and `GET /api/v1/calendar/<user>.ics`: a user's meetings and
tasks in a range, in their time zone, within the caller's read scope; the token-protected
iCal feed.

The permission-matrix rows for the calendar and the feed are
`test_the_calendar_shows_exactly_*` and `test_the_feed_*`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import icalendar
import pytest

from database_harness import postgres_schema, schema_url
from metacrm.api import RUNTIME_KEY, WebRuntime
from metacrm.services.calendar import feed as calendar_feed
from metacrm.services.users.preferences import UserPreferences, save_preferences
from web_harness import Web, bearer, open_web, role

LABEL = {"en": "Thing", "ru": "Штука"}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": LABEL, **options}


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": LABEL,
            "fields": list(fields), **extra}


DOCUMENTS = [
    entity("meeting", field("subject"), field("starts_at", "datetime"),
           field("ends_at", "datetime"), field("location"), field("description", "textarea"),
           field("secret"), title_field="subject",
           reminders=[{"field": "starts_at", "to": "owner"}]),
    entity("task", field("subject"), field("due_date", "date"), field("due_at", "datetime"),
           title_field="subject",
           reminders=[{"field": "due_date", "to": "owner"}, {"field": "due_at", "to": "owner"}]),
    entity("memo", field("subject"), field("noted_at", "datetime")),
]
TEAM_READ = {"read": "team", "create": "all", "update": "own"}
ROLES = [
    role("boss", admin=True),
    role("manager", entities={"meeting": TEAM_READ, "task": TEAM_READ}),
    role("rep", entities={"meeting": {**TEAM_READ, "fields": {"secret": "hidden"}},
                          "task": TEAM_READ}),
    role("loner", entities={"meeting": {"read": "own", "create": "all", "update": "own"}}),
]
MEETING_NAME = "Review; budget, Q1\\2 — a subject long enough that the feed folds its line " \
               "at seventy-five octets"


class World:
    def __init__(self, web: Web) -> None:
        self.web = web
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, dict[str, str]] = {}
        for name, role_name in (("root", "boss"), ("ann", "manager"), ("rep1", "rep"),
                                ("rep2", "rep"), ("ny", "rep"), ("msk", "rep"),
                                ("solo", "loner"), ("tim", "rep")):
            self.ids[name] = str(web.create_user(name, role_name).id)
            self.tokens[name] = bearer(web.login(name))
        runtime: WebRuntime = web.app.extensions[RUNTIME_KEY]
        self.runtime = runtime
        with runtime.engine.begin() as conn:
            runtime.teams.create_team(conn, "east")
            runtime.teams.create_team(conn, "west")
            for member in ("ann", "rep1"):
                runtime.teams.add_member(conn, "east", self.ids[member])
            runtime.teams.add_member(conn, "west", self.ids["rep2"])
        runtime.teams.forget_cached_teams()
        save_preferences(runtime.engine, self.ids["ny"],
                         UserPreferences(time_zone="America/New_York"))
        save_preferences(runtime.engine, self.ids["msk"],
                         UserPreferences(time_zone="Europe/Moscow"))
        self.rep1_meeting = self.post("meeting", {
            "subject": MEETING_NAME, "starts_at": "2026-03-10T09:00:00Z",
            "ends_at": "2026-03-10T10:30:00Z", "location": "Room 1, 2nd floor",
            "description": "Line one\nline two", "secret": "S3CRET", "owner": self.ids["rep1"]})
        self.rep1_task = self.post("task", {"subject": "Send the offer",
                                            "due_date": "2026-03-11", "owner": self.ids["rep1"]})
        self.post("meeting", {"subject": "outside the range",
                              "starts_at": "2026-05-10T09:00:00Z", "owner": self.ids["rep1"]})
        self.rep2_meeting = self.post("meeting", {"subject": "West call",
                                                  "starts_at": "2026-03-10T12:00:00Z",
                                                  "owner": self.ids["rep2"]})
        # New York: clocks go forward on Sunday 2026-03-08 at 02:00 (EST -> EDT).
        self.post("meeting", {"subject": "NY before", "starts_at": "2026-03-07T14:00:00Z",
                              "owner": self.ids["ny"]})
        self.post("meeting", {"subject": "NY Monday nine", "starts_at": "2026-03-09T13:00:00Z",
                              "owner": self.ids["ny"]})
        self.post("task", {"subject": "NY Saturday", "due_date": "2026-03-14",
                           "owner": self.ids["ny"]})
        self.post("task", {"subject": "NY next Sunday", "due_date": "2026-03-15",
                           "owner": self.ids["ny"]})
        self.post("meeting", {"subject": "MSK Monday nine", "starts_at": "2026-03-09T06:00:00Z",
                              "owner": self.ids["msk"]})
        self.post("meeting", {"subject": "MSK Sunday late", "starts_at": "2026-03-15T20:30:00Z",
                              "owner": self.ids["msk"]})  # 23:30 in Moscow
        self.post("meeting", {"subject": "MSK next Monday", "starts_at": "2026-03-15T21:30:00Z",
                              "owner": self.ids["msk"]})  # 00:30 on Monday in Moscow
        self.timed_task = self.post("task", {"subject": "Call back", "due_date": "2026-03-12",
                                             "due_at": "2026-03-12T15:00:00Z",
                                             "owner": self.ids["tim"]})
        self.post("task", {"subject": "Plan the week", "due_date": "2026-03-13",
                           "owner": self.ids["tim"]})
        self.post("task", {"subject": "Moved to May", "due_date": "2026-03-20",
                           "due_at": "2026-05-04T08:00:00Z", "owner": self.ids["tim"]})

    def post(self, entity_name: str, payload: dict[str, Any]) -> str:
        response = self.web.client.post(f"/api/v1/records/{entity_name}", json=payload,
                                        headers=self.tokens["root"])
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def calendar(self, user: str, query: str, status: int = 200) -> Any:
        response = self.web.client.get(f"/api/v1/calendar{query}", headers=self.tokens[user])
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def titles(self, user: str, query: str) -> list[str]:
        return [item["title"] for item in self.calendar(user, query)["data"]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("calendar")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'c.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        web = stack.enter_context(open_web(url, root, roles=[*DOCUMENTS, *ROLES]))
        yield World(web)


MARCH = "?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"


def test_the_calendar_shows_exactly_the_users_own_items_in_the_range(world: World) -> None:
    answer = world.calendar("rep1", MARCH)
    assert answer["user"] == world.ids["rep1"] and answer["time_zone"] == "UTC"
    assert answer["from"] == "2026-03-01T00:00:00Z" and answer["truncated"] is False
    meeting, task = answer["data"]
    assert (meeting["entity"], meeting["id"], meeting["title"]) == (
        "meeting", world.rep1_meeting, MEETING_NAME)
    assert (meeting["start"], meeting["end"], meeting["all_day"]) == (
        "2026-03-10T09:00:00Z", "2026-03-10T10:30:00Z", False)
    assert "secret" not in meeting["record"]  # field security applies
    assert (task["id"], task["all_day"], task["date"]) == (world.rep1_task, True, "2026-03-11")
    assert (task["start"], task["end"]) == ("2026-03-11T00:00:00Z", "2026-03-12T00:00:00Z")


def test_a_task_with_a_due_time_is_timed_and_one_without_is_all_day(world: World) -> None:
    """A due time wins over the due date: the task sits in its slot (and is rescheduled by
    moving `due_at`); a task without one is all-day on its date (moved by `due_date`)."""
    timed, all_day = world.calendar("tim", MARCH)["data"]

    assert (timed["id"], timed["all_day"], timed["field"]) == (
        world.timed_task, False, "due_at")
    assert (timed["start"], timed["end"]) == ("2026-03-12T15:00:00Z", "2026-03-12T15:30:00Z")
    assert (all_day["title"], all_day["all_day"], all_day["field"], all_day["date"]) == (
        "Plan the week", True, "due_date", "2026-03-13")
    may = "?from=2026-05-01T00:00:00Z&to=2026-05-31T00:00:00Z"
    assert world.titles("tim", may) == ["Moved to May"]


def test_the_calendar_shows_exactly_the_team_members_items_to_their_manager(
        world: World) -> None:
    query = f"{MARCH}&user={world.ids['rep1']}"
    assert world.titles("ann", query) == [MEETING_NAME, "Send the offer"]
    assert world.titles("root", f"{MARCH}&user={world.ids['rep2']}") == ["West call"]


def test_the_calendar_of_someone_outside_the_scope_is_forbidden(world: World) -> None:
    for asker, whose in (("rep2", "rep1"), ("ann", "rep2"), ("solo", "rep1"),
                         ("rep1", "rep2")):
        problem = world.calendar(asker, f"{MARCH}&user={world.ids[whose]}", status=403)
        assert problem["errors"][0]["pointer"] == "/user"
    # The rep of another team sees only their own calendar.
    assert world.titles("rep2", MARCH) == ["West call"]


def test_bad_ranges_point_at_the_parameter(world: World) -> None:
    cases = {"?to=2026-03-02T00:00:00Z": "/from",
             "?from=yesterday&to=2026-03-02T00:00:00Z": "/from",
             "?from=2026-03-01T00:00:00&to=2026-03-02T00:00:00Z": "/from",
             "?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z": "/to",
             "?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z": "/to",
             "?from=0001-01-01&to=0001-01-02": "/from",
             "?from=2026-03-01&to=2026-03-02&colour=red": "/colour"}
    for query, pointer in cases.items():
        problem = world.calendar("rep1", query, status=422)
        assert [e["pointer"] for e in problem["errors"]] == [pointer], query
    assert world.web.client.get(f"/api/v1/calendar{MARCH}").status_code == 401


def test_a_week_across_new_yorks_dst_change_is_seven_local_days(world: World) -> None:
    answer = world.calendar("ny", "?from=2026-03-08&to=2026-03-15")
    assert answer["time_zone"] == "America/New_York"
    assert (answer["from"], answer["to"]) == ("2026-03-08T05:00:00Z", "2026-03-15T04:00:00Z")
    by_title = {item["title"]: item for item in answer["data"]}
    assert list(by_title) == ["NY Monday nine", "NY Saturday"]
    assert by_title["NY Monday nine"]["start"] == "2026-03-09T13:00:00Z"  # 09:00 EDT
    saturday = by_title["NY Saturday"]
    assert (saturday["start"], saturday["end"]) == ("2026-03-14T04:00:00Z",
                                                    "2026-03-15T04:00:00Z")


def test_a_moscow_week_keeps_its_offset(world: World) -> None:
    answer = world.calendar("msk", "?from=2026-03-09&to=2026-03-16")
    assert answer["time_zone"] == "Europe/Moscow"
    assert (answer["from"], answer["to"]) == ("2026-03-08T21:00:00Z", "2026-03-15T21:00:00Z")
    assert [item["title"] for item in answer["data"]] == ["MSK Monday nine", "MSK Sunday late"]


def feed(world: World, user: str, token: str | None) -> Any:
    """The feed as it is on 2026-03-01 (it spans a month back, a year ahead)."""
    query = "" if token is None else f"?token={token}"
    services = world.runtime.services
    clock = services.clock
    services.clock = lambda: datetime(2026, 3, 1, tzinfo=UTC)
    try:
        return world.web.client.get(f"/api/v1/calendar/{world.ids[user]}.ics{query}")
    finally:
        services.clock = clock


def test_the_feed_is_rfc_5545_with_the_users_items(world: World) -> None:
    token = calendar_feed.create_token(world.runtime.engine, world.ids["rep1"])
    response = feed(world, "rep1", token)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    raw = response.get_data()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded
    assert b"SUMMARY:Review\\; budget\\, Q1\\\\2" in raw  # escaped
    assert b"DTSTART:20260310T090000Z" in raw and b"DTEND:20260310T103000Z" in raw
    assert b"DTSTART;VALUE=DATE:20260311" in raw
    parsed = icalendar.Calendar.from_ical(raw)
    events = {str(e["SUMMARY"]): e for e in parsed.walk("VEVENT")}
    assert set(events) == {MEETING_NAME, "Send the offer", "outside the range"}
    meeting = events[MEETING_NAME]
    assert str(meeting["UID"]).startswith(f"meeting-{world.rep1_meeting}@")
    assert str(meeting["LOCATION"]) == "Room 1, 2nd floor"
    assert str(meeting["DESCRIPTION"]) == "Line one\nline two"
    assert "DTSTAMP" in meeting and b"S3CRET" not in raw
    assert "West call" not in events  # another user's meeting


def test_the_feed_refuses_wrong_revoked_and_missing_tokens_alike(world: World) -> None:
    engine = world.runtime.engine
    old = calendar_feed.create_token(engine, world.ids["rep2"])
    new = calendar_feed.create_token(engine, world.ids["rep2"])
    assert feed(world, "rep2", new).status_code == 200
    rep1_token = calendar_feed.create_token(engine, world.ids["rep1"])
    answers = [feed(world, "rep2", old), feed(world, "rep2", None),
               feed(world, "rep2", new[:-1] + ("A" if new[-1] != "A" else "B")),
               feed(world, "rep2", rep1_token),
               world.web.client.get(f"/api/v1/calendar/999999.ics?token={new}")]
    assert calendar_feed.revoke_token(engine, world.ids["rep2"])
    answers.append(feed(world, "rep2", new))
    assert {response.status_code for response in answers} == {404}
    assert len({response.get_data() for response in answers}) == 1  # nothing told apart


def test_the_openapi_document_lists_the_calendar(world: World) -> None:
    document = world.web.client.get("/api/v1/openapi.json", headers=world.tokens["root"]).get_json()
    assert "/api/v1/calendar" in document["paths"]
    assert document["paths"]["/api/v1/calendar/{user}.ics"]["get"]["security"] == []
