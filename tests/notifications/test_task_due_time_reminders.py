"""The shipped task reminds its owner before its due time, as early as they chose; a task
with a due time is not also reminded of its due date in the morning, and a done one never is
(metadata/tasks/task.json's `reminders`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from metacrm.notifications.reminders import TASK_NAME
from web_harness import Web, bearer, open_web, role

ROOT = Path(__file__).resolve().parents[2]
DUE = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)


def shipped_task() -> dict[str, Any]:
    """The pack's task without its link to people (no contacts here)."""
    body = json.loads((ROOT / "metadata" / "tasks" / "task.json").read_text("utf-8"))
    body["fields"] = [f for f in body["fields"] if f["type"] != "reference"]
    return dict(body)


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    rep = role("rep", entities={"task": {"read": "own", "create": "all", "update": "own"}})
    with open_web(isolated_database_url, tmp_path,
                  roles=(role("boss", admin=True), rep, shipped_task()),
                  RATELIMIT_ENABLED=False) as app:
        yield app


def test_a_timed_task_reminds_its_owner_before_its_due_time_only(web: Web) -> None:
    services = web.app.extensions["metacrm"].services
    ann = str(web.create_user("ann", "rep").id)
    web.create_user("root", "boss")
    root, mine = bearer(web.login("root")), bearer(web.login("ann"))
    services.notifications.save_preferences(services.subjects.subject_of(ann), 20, "off")
    for subject, status, due_at in (("Call the bank", "open", DUE.isoformat()),
                                    ("Already done", "done", DUE.isoformat()),
                                    ("Some time today", "open", None)):
        response = web.client.post("/api/v1/records/task", headers=root, json={
            "subject": subject, "status": status, "owner": ann,
            "due_date": DUE.date().isoformat(), "due_at": due_at})
        assert response.status_code == 201, response.get_json()
    tick = services.periodic[TASK_NAME]

    def reminded() -> list[str]:
        found = web.client.get("/api/v1/notifications", headers=mine).get_json()["data"]
        return sorted(n["record"]["subject"] for n in found if n["kind"] == "reminder")

    tick(DUE.replace(hour=8, minute=45))  # 09:00 UTC (Ann's zone) - 15 min: the date ones
    morning = reminded()
    tick(DUE - timedelta(minutes=21))
    early = reminded()
    tick(DUE - timedelta(minutes=20))

    assert morning == ["Some time today"]  # the timed task waits for its time
    assert early == ["Some time today"]
    assert reminded() == ["Call the bank", "Some time today"]
