"""Reminders in the recipient's time zone: a due date is reminded of before 09:00 of that
day where the user lives (Tokyo's morning is the evening before in UTC; New York's comes
five hours after London's), the reminder carries its moment, and the notifications page
shows it in the reader's zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_reminders import CHORE, REP, World

from metacrm.services.users.preferences import UserPreferences, save_preferences
from web_harness import PASSWORD, open_web, role


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    with open_web(isolated_database_url, tmp_path, roles=(role("boss", admin=True), REP, CHORE),
                  RATELIMIT_ENABLED=False) as web:
        yield World(web)


def notices(world: World, who: str) -> list[dict[str, object]]:
    response = world.web.client.get("/api/v1/notifications", headers=world.auth[who])
    assert response.status_code == 200, response.get_json()
    return [item for item in response.get_json()["data"] if item["kind"] == "reminder"]


def test_a_due_date_is_reminded_of_before_nine_in_the_users_zone(world: World) -> None:
    engine = world.services.engine
    save_preferences(engine, world.ids["ann"], UserPreferences(time_zone="Asia/Tokyo"))
    save_preferences(engine, world.ids["bob"], UserPreferences(time_zone="America/New_York"))
    world.prefer("ann", 60)
    world.prefer("bob", 60)
    world.chore("Tokyo filing", owner="ann", due="2030-01-10")
    world.chore("New York filing", owner="bob", due="2030-01-10")
    # 09:00 in Tokyo on 10 January is 00:00 UTC; an hour before is 23:00 UTC on the 9th.
    world.tick(datetime(2030, 1, 9, 22, 30, tzinfo=UTC))
    assert world.reminders("ann") == []
    world.tick(datetime(2030, 1, 9, 23, 5, tzinfo=UTC))
    assert world.reminders("ann") == ["Tokyo filing"]
    assert notices(world, "ann")[0]["message"] == "2030-01-10T00:00:00Z"
    # 09:00 in New York (EST) is 14:00 UTC: nothing at London's 08:30, then at 13:05 UTC.
    world.tick(datetime(2030, 1, 10, 8, 30, tzinfo=UTC))
    assert world.reminders("bob") == []
    world.tick(datetime(2030, 1, 10, 13, 5, tzinfo=UTC))
    assert world.reminders("bob") == ["New York filing"]
    assert notices(world, "bob")[0]["message"] == "2030-01-10T14:00:00Z"


def test_the_notifications_page_says_when_in_the_readers_zone(world: World) -> None:
    save_preferences(world.services.engine, world.ids["ann"],
                     UserPreferences(language="en", time_zone="Asia/Tokyo",
                                     date_format="iso"))
    world.prefer("ann", 60)
    world.chore("Tokyo filing", owner="ann", due="2030-01-10")
    world.tick(datetime(2030, 1, 9, 23, 5, tzinfo=UTC))
    browser = world.web.app.test_client()
    login = browser.get("/app/login").get_data(as_text=True)
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = browser.post("/app/login", data={"csrf_token": token, "username": "ann",
                                              "password": PASSWORD})
    assert signed.status_code == 302
    page = browser.get("/app/notifications").get_data(as_text=True)
    assert "Due at 2030-01-10 09:00" in page
