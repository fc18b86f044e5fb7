"""The profile page's calendar feed: create an address (shown once, working), replace it
(the former one stops working), turn it off (no address works); in Russian too."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from screen_harness import entity, field, open_screens

import metacrm.web.calendar_feed_page
import metacrm.web.profile  # noqa: F401  (make the screen blueprints)
from web_harness import role

MEETING = entity("meeting", field("subject"), field("starts_at", "datetime"),
                 title_field="subject", reminders=[{"field": "starts_at", "to": "owner"}])
CLERK = role("clerk", entities={"meeting": {"read": "own", "create": "all", "update": "own"}})
PROFILE = "/app/account/profile"


def feed_path(page: str) -> str:
    found = re.search(r'value="(http://[^"]+)" size="80" data-feed-address', page)
    assert found and found.group(1), "no feed address on the page"
    return found.group(1).replace("http://localhost", "").replace("&amp;", "&")


def test_a_feed_address_is_made_replaced_and_turned_off(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, MEETING, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        created = ann.client.post("/api/v1/records/meeting", json={
            "subject": "Kick-off",
            "starts_at": (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")})
        assert created.status_code == 201
        assert 'data-feed-state="off"' in ann.text(PROFILE)
        made = ann.post("/app/account/calendar-feed")
        assert made.status_code == 201
        first = feed_path(made.get_data(as_text=True))
        answer = screens.anonymous().get(first)
        assert answer.status_code == 200 and b"SUMMARY:Kick-off" in answer.get_data()
        assert 'data-feed-state="on"' in ann.text(PROFILE)
        second = feed_path(ann.post("/app/account/calendar-feed").get_data(as_text=True))
        assert screens.anonymous().get(first).status_code == 404
        assert screens.anonymous().get(second).status_code == 200
        off = ann.post("/app/account/calendar-feed/revoke")
        assert off.status_code == 303
        assert screens.anonymous().get(second).status_code == 404
        assert 'data-feed-state="off"' in ann.text(PROFILE)
        ann.client.set_cookie("metacrm_language", "ru")
        assert "Подписка на календарь не включена." in ann.text(PROFILE)
