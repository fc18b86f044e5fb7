"""The calendar screen: a week across a DST change in New York and in Moscow, in the
viewer's zone; a manager's team calendar (the picker lists whom their scope covers, others
are refused); slots open the meeting form prefilled; the move the page script makes (a
PATCH with If-Match through the records API) works and a stale one is refused; in Russian.
"""

from __future__ import annotations

import re
from pathlib import Path

from screen_harness import Browser, Screens, entity, field, open_screens

import metacrm.web.calendar_page
import metacrm.web.record_form  # noqa: F401  (make the screen blueprints)
from metacrm.api import RUNTIME_KEY, WebRuntime
from metacrm.services.users.preferences import UserPreferences, save_preferences
from web_harness import role

MEETING = entity("meeting", field("subject"), field("starts_at", "datetime"),
                 field("ends_at", "datetime"), title_field="subject",
                 reminders=[{"field": "starts_at", "to": "owner"}])
TASK = entity("task", field("subject"), field("due_date", "date"), field("due_at", "datetime"),
              title_field="subject", reminders=[{"field": "due_date", "to": "owner"},
                                                {"field": "due_at", "to": "owner"}])
TEAM = {"read": "team", "create": "all", "update": "own"}
REP = role("rep", entities={"meeting": TEAM, "task": TEAM})
OWN = {"read": "own", "create": "all", "update": "own"}
LONER = role("loner", entities={"meeting": OWN, "task": OWN})


def day_cell(page: str, day: str) -> str:
    found = re.search(rf'data-day="{day}">(.*?)</section>', page, re.S)
    assert found, f"no cell for {day}"
    return found.group(1)


def create(who: Browser, entity_name: str, **values: str) -> dict[str, object]:
    response = who.client.post(f"/api/v1/records/{entity_name}", json=values)
    assert response.status_code == 201, response.get_json()
    data: dict[str, object] = response.get_json()["data"]
    return data


def prepare(screens: Screens) -> tuple[Browser, Browser, Browser, dict[str, str]]:
    ids = {}
    for name, role_name in (("ann", "rep"), ("bob", "rep"), ("cy", "loner")):
        ids[name] = str(screens.web.create_user(name, role_name).id)
    runtime: WebRuntime = screens.web.app.extensions[RUNTIME_KEY]
    with runtime.engine.begin() as conn:
        runtime.teams.create_team(conn, "east")
        runtime.teams.add_member(conn, "east", ids["ann"])
        runtime.teams.add_member(conn, "east", ids["bob"])
    runtime.teams.forget_cached_teams()
    save_preferences(runtime.engine, ids["ann"], UserPreferences(time_zone="America/New_York"))
    save_preferences(runtime.engine, ids["bob"], UserPreferences(time_zone="Europe/Moscow"))
    return (screens.sign_in("ann"), screens.sign_in("bob"), screens.sign_in("cy"), ids)


def test_weeks_across_dst_in_new_york_and_moscow_and_the_team_calendar(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, TASK, REP, LONER) as screens:
        ann, bob, cy, ids = prepare(screens)
        # 09:00 EST on Saturday, 09:00 EDT on Monday: the clocks moved on Sunday 8 March.
        create(ann, "meeting", subject="Sat standup", starts_at="2026-03-07T14:00:00Z")
        monday = create(ann, "meeting", subject="Mon review", starts_at="2026-03-09T13:00:00Z",
                        ends_at="2026-03-09T14:00:00Z")
        create(ann, "task", subject="File report", due_date="2026-03-13")
        create(bob, "meeting", subject="Moscow sync", starts_at="2026-03-09T06:00:00Z")
        page = ann.text("/app/calendar?view=week&date=2026-03-09")
        assert "America/New_York" in page and 'data-nav-calendar' in page
        cell = day_cell(page, "2026-03-09")
        assert "Mon review" in cell and '<time datetime="2026-03-09T09:00:00-04:00">09:00' in cell
        assert "Sat standup" not in page  # the week before
        assert "File report" in day_cell(page, "2026-03-13")
        assert len(re.findall(r'<section class="cal-day', page)) == 7
        week_before = ann.text("/app/calendar?view=week&date=2026-03-07")
        assert '<time datetime="2026-03-07T09:00:00-05:00">09:00' in week_before
        # Bob sees his own week in Moscow time (no DST there) and Ann's from their team.
        moscow = bob.text("/app/calendar?view=week&date=2026-03-09")
        assert '<time datetime="2026-03-09T09:00:00+03:00">09:00' in moscow
        team = bob.text(f"/app/calendar?view=week&date=2026-03-09&user={ids['ann']}")
        assert "Mon review" in team and "draggable" not in team.split("data-cal-grid")[1]
        assert re.search(rf'<option value="{ids["ann"]}"', moscow)
        refused = cy.get(f"/app/calendar?view=week&date=2026-03-09&user={ids['ann']}")
        assert refused.status_code == 403
        assert '<select id="cal-user"' not in cy.text("/app/calendar")
        # A slot opens the meeting form with its start.
        day = ann.text("/app/calendar?view=day&date=2026-03-10")
        assert 'href="/app/r/meeting/new?starts_at=2026-03-10T14%3A00"' in day
        assert ann.get("/app/calendar?view=month&date=0001-01-01").status_code == 422
        assert ann.get("/app/calendar?date=tomorrow").status_code == 422
        month = ann.text("/app/calendar?view=month&date=2026-03-01")
        assert "Mon review" in month and "File report" in month
        # The page script's move: PATCH with If-Match; a stale version is refused.
        etag = f'"{monday["id"]}:{monday["version"]}"'
        headers = {"If-Match": etag, "X-CSRFToken": ann.csrf()}
        moved = ann.client.patch(f"/api/v1/records/meeting/{monday['id']}", headers=headers,
                                 json={"starts_at": "2026-03-10T13:00:00Z",
                                       "ends_at": "2026-03-10T14:00:00Z"})
        assert moved.status_code == 200, moved.get_json()
        stale = ann.client.patch(f"/api/v1/records/meeting/{monday['id']}", headers=headers,
                                 json={"starts_at": "2026-03-11T13:00:00Z"})
        assert stale.status_code == 412
        assert "Mon review" in day_cell(ann.text("/app/calendar?view=week&date=2026-03-09"),
                                        "2026-03-10")
        ann.client.set_cookie("metacrm_language", "ru")
        russian = ann.text("/app/calendar?view=week&date=2026-03-09")
        assert "Календарь" in russian and "Неделя" in russian


def hour_slot(page: str, hour: int) -> str:
    """The day view's slot of that hour: from its tag to the next hour's."""
    return page.split(f'data-hour="{hour}">')[1].split(f'data-hour="{hour + 1}">')[0]


def test_a_timed_task_sits_in_its_hour_and_moves_by_its_due_time(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, TASK, REP, LONER) as screens:
        ann, _, _, _ = prepare(screens)  # Ann is in New York: 15:00 UTC is 11:00 EDT
        timed = create(ann, "task", subject="Call the bank", due_date="2026-03-10",
                       due_at="2026-03-10T15:00:00Z")
        create(ann, "task", subject="Tidy the pipeline", due_date="2026-03-10")

        day = ann.text("/app/calendar?view=day&date=2026-03-10")
        all_day_row = day.split('cal-all-day-row"')[1].split("</ul>")[0]
        eleven = hour_slot(day, 11)

        assert "Tidy the pipeline" in all_day_row and "Call the bank" not in all_day_row
        assert "Call the bank" in eleven and 'data-start-field="due_at"' in eleven
        assert 'data-start-field="due_date"' in all_day_row
        # The page script moves the field the item sits on: due_at, to 14:00 in New York.
        moved = ann.client.patch(
            f"/api/v1/records/task/{timed['id']}", json={"due_at": "2026-03-10T18:00:00Z"},
            headers={"If-Match": f'"{timed["id"]}:{timed["version"]}"',
                     "X-CSRFToken": ann.csrf()})
        assert moved.status_code == 200, moved.get_json()
        assert "Call the bank" in hour_slot(ann.text("/app/calendar?view=day&date=2026-03-10"),
                                            14)
