"""A task's due date and due time agree after every save (`metacrm.services.calendar.due_moments`):
the due date is the due time's date in the owner's zone; moving only the date of a timed
task keeps its wall-clock time; clearing the date clears the time; clearing the time keeps
an all-day task of that date."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from metacrm.services.users.preferences import UserPreferences, save_preferences
from web_harness import Web, bearer, open_web, role

ROOT = Path(__file__).resolve().parents[2]


def shipped_task() -> dict[str, Any]:
    """The pack's task without its link to people (no contacts here)."""
    body = json.loads((ROOT / "metadata" / "tasks" / "task.json").read_text("utf-8"))
    body["fields"] = [f for f in body["fields"] if f["type"] != "reference"]
    return dict(body)


class Tasks:
    def __init__(self, web: Web) -> None:
        self.web = web
        services = web.app.extensions["metacrm"].services
        ann = str(web.create_user("ann", "rep").id)
        save_preferences(services.engine, ann, UserPreferences(time_zone="Asia/Tokyo"))
        self.ann = bearer(web.login("ann"))

    def create(self, **values: Any) -> tuple[dict[str, Any], str]:
        response = self.web.client.post("/api/v1/records/task", headers=self.ann,
                                        json={"subject": "Call the bank", **values})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"], response.headers["ETag"]

    def change(self, task: tuple[dict[str, Any], str], **values: Any
               ) -> tuple[dict[str, Any], str]:
        response = self.web.client.patch(f"/api/v1/records/task/{task[0]['id']}", json=values,
                                         headers={**self.ann, "If-Match": task[1]})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"], response.headers["ETag"]


@pytest.fixture
def tasks(isolated_database_url: str, tmp_path: Path) -> Iterator[Tasks]:
    rep = role("rep", entities={"task": {"read": "own", "create": "all", "update": "own"}})
    with open_web(isolated_database_url, tmp_path, roles=(rep, shipped_task()),
                  RATELIMIT_ENABLED=False) as web:
        yield Tasks(web)


def due(task: tuple[dict[str, Any], str]) -> tuple[Any, Any]:
    return task[0]["due_date"], task[0]["due_at"]


def test_the_due_time_sets_the_due_date_in_the_owners_zone(tasks: Tasks) -> None:
    # 20:00 UTC on the 4th is 05:00 on the 5th in Tokyo
    task = tasks.create(due_at="2030-03-04T20:00:00Z")
    assert due(task) == ("2030-03-05", "2030-03-04T20:00:00Z")

    # both given but disagreeing: the due time, the more precise, wins
    task = tasks.change(task, due_date="2030-03-01", due_at="2030-03-10T01:00:00Z")
    assert due(task) == ("2030-03-10", "2030-03-10T01:00:00Z")

    # the calendar drags a timed task by its due time: the date follows
    task = tasks.change(task, due_at="2030-03-11T16:30:00Z")
    assert due(task) == ("2030-03-12", "2030-03-11T16:30:00Z")


def test_moving_only_the_date_of_a_timed_task_keeps_its_wall_clock_time(tasks: Tasks) -> None:
    task = tasks.create(due_at="2030-03-04T06:00:00Z")  # 15:00 in Tokyo on the 4th
    task = tasks.change(task, due_date="2030-03-08")
    assert due(task) == ("2030-03-08", "2030-03-08T06:00:00Z")  # still 15:00 in Tokyo


def test_clearing_the_time_keeps_the_date_and_clearing_the_date_clears_the_time(
        tasks: Tasks) -> None:
    timed = tasks.create(due_at="2030-03-04T06:00:00Z")
    assert due(tasks.change(timed, due_at=None)) == ("2030-03-04", None)

    timed = tasks.create(due_at="2030-03-04T06:00:00Z")
    assert due(tasks.change(timed, due_date=None)) == (None, None)


def test_an_all_day_task_stays_all_day_and_bad_input_is_refused_as_before(
        tasks: Tasks) -> None:
    task = tasks.create(due_date="2030-03-04")
    assert due(tasks.change(task, due_date="2030-03-06")) == ("2030-03-06", None)

    refused = tasks.web.client.post("/api/v1/records/task", headers=tasks.ann, json={
        "subject": "x", "due_at": "tomorrow-ish"})
    assert refused.status_code == 422
    assert [e["pointer"] for e in refused.get_json()["errors"]] == ["/due_at"]


def test_utc_is_used_for_an_owner_without_a_zone(tasks: Tasks) -> None:
    tasks.web.create_user("bob", "rep")
    bob = bearer(tasks.web.login("bob"))
    response = tasks.web.client.post("/api/v1/records/task", headers=bob, json={
        "subject": "x", "due_at": datetime(2030, 3, 4, 23, 30, tzinfo=UTC).isoformat()})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["due_date"] == "2030-03-04"
