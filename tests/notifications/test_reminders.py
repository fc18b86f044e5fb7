"""Due-date reminders as users rely on them: told once, before the moment, as early as they
chose; never about a finished task or a moment already past; never twice, not even with two
schedulers ticking at once. The scheduler's clock is injected: no test sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from metacrm.notifications.reminders import TASK_NAME
from web_harness import Web, bearer, open_web, role


def labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


DONE = {"field": "status", "op": "in", "value": ["done", "cancelled"]}
CHORE = {
    "kind": "entity", "name": "chore", "version": 1, "label": labels("Chore"),
    "title_field": "title",
    "fields": [
        {"name": "title", "type": "text", "label": labels("Title")},
        {"name": "due", "type": "date", "label": labels("Due")},
        {"name": "call_at", "type": "datetime", "label": labels("Call at")},
        {"name": "helper", "type": "user", "label": labels("Helper")},
        {"name": "status", "type": "picklist", "label": labels("Status"), "default": "open",
         "choices": [{"value": v, "label": labels(v)} for v in ("open", "done", "cancelled")]},
    ],
    "reminders": [{"field": "due", "to": "owner", "unless": DONE},
                  {"field": "call_at", "to": ["helper"]}],
}
REP = role("rep", entities={"chore": {"read": "own", "create": "all", "update": "own",
                                      "delete": "none", "export": "none"}})
MORNING = datetime(2030, 1, 10, 8, 30, tzinfo=UTC)
"""Half an hour before 09:00 UTC, the moment a chore due on 2030-01-10 is reminded of."""


class World:
    def __init__(self, web: Web) -> None:
        self.web = web
        self.services = web.app.extensions["metacrm"].services
        self.ids = {name: str(web.create_user(name, role_name).id)
                    for name, role_name in (("root", "boss"), ("ann", "rep"), ("bob", "rep"))}
        self.auth = {name: bearer(web.login(name)) for name in self.ids}
        self.tick: Callable[[datetime], None] = self.services.periodic[TASK_NAME]

    def chore(self, title: str, owner: str = "ann", **values: Any) -> str:
        response = self.web.client.post(
            "/api/v1/records/chore", headers=self.auth["root"],
            json={"title": title, "owner": self.ids[owner], **values})
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def reminders(self, who: str) -> list[str]:
        """Titles of the records `who` was reminded of, oldest first."""
        response = self.web.client.get("/api/v1/notifications", headers=self.auth[who])
        assert response.status_code == 200, response.get_json()
        items = response.get_json()["data"]
        return [item["record"]["title"] for item in reversed(items)
                if item["kind"] == "reminder"]

    def prefer(self, who: str, minutes: int) -> None:
        service = self.services.notifications
        service.save_preferences(self.services.subjects.subject_of(self.ids[who]),
                                 minutes, "off")


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    with open_web(isolated_database_url, tmp_path, roles=(role("boss", admin=True), REP, CHORE),
                  RATELIMIT_ENABLED=False) as web:
        yield World(web)


def test_a_due_task_is_reminded_of_once_and_a_done_one_never(world: World) -> None:
    world.chore("Due today", due="2030-01-10")
    world.chore("Done already", due="2030-01-10", status="done")
    world.chore("Cancelled", due="2030-01-10", status="cancelled")
    world.chore("Due tomorrow", due="2030-01-11")
    world.chore("Overdue", due="2030-01-09")
    world.chore("No date")

    world.tick(MORNING - timedelta(minutes=31))      # 07:59: more than 60 minutes ahead
    assert world.reminders("ann") == []
    world.tick(MORNING)
    world.tick(MORNING + timedelta(minutes=1))
    assert world.reminders("ann") == ["Due today"]
    assert world.reminders("bob") == []


def test_two_schedulers_ticking_at_once_remind_once(world: World) -> None:
    world.chore("Due today", due="2030-01-10")
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        start.wait()
        try:
            world.tick(MORNING)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == [] and world.reminders("ann") == ["Due today"]


def test_each_user_is_reminded_as_early_as_they_chose(world: World) -> None:
    world.chore("Ann's", due="2030-01-10")
    world.chore("Bob's", owner="bob", due="2030-01-10")
    world.prefer("bob", 10)
    world.prefer("ann", 180)

    world.tick(datetime(2030, 1, 10, 6, 0, tzinfo=UTC))    # three hours before 09:00
    assert (world.reminders("ann"), world.reminders("bob")) == (["Ann's"], [])
    world.tick(datetime(2030, 1, 10, 8, 49, tzinfo=UTC))
    assert world.reminders("bob") == []
    world.tick(datetime(2030, 1, 10, 8, 50, tzinfo=UTC))
    assert world.reminders("bob") == ["Bob's"]


def test_a_moved_due_date_reminds_again_and_user_fields_name_recipients(world: World) -> None:
    chore = world.chore("Call Acme", owner="root", helper=world.ids["bob"],
                        call_at="2030-01-10T12:00:00Z")
    world.tick(datetime(2030, 1, 10, 11, 30, tzinfo=UTC))
    moved = world.web.client.patch(f"/api/v1/records/chore/{chore}", headers=world.auth["root"],
                                   json={"call_at": "2030-01-11T12:00:00Z"})
    assert moved.status_code == 200, moved.get_json()
    world.tick(datetime(2030, 1, 10, 11, 45, tzinfo=UTC))
    world.tick(datetime(2030, 1, 11, 11, 30, tzinfo=UTC))

    # bob is told twice (the helper) but sees the chore only while he may read it: he is
    # not its owner, so the rep's own scope hides it; root (admin) owns it and reads it
    assert world.reminders("bob") == []
    found = world.services.notifications.list(
        world.services.subjects.subject_of(world.ids["root"]))
    assert found.items == []  # root is the owner, not a recipient of the call_at reminder
    hand_over = world.web.client.patch(f"/api/v1/records/chore/{chore}",
                                       headers=world.auth["root"],
                                       json={"owner": world.ids["bob"]})
    assert hand_over.status_code == 200, hand_over.get_json()
    assert world.reminders("bob") == ["Call Acme", "Call Acme"]
