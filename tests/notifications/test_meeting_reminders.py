"""The shipped meeting reminds its owner before it starts, as early as they chose, and a
cancelled or held meeting never does (metadata/activities/meeting.json's `reminders`)."""

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
STARTS = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


def shipped_meeting() -> dict[str, Any]:
    """The pack's meeting, its regarding field narrowed to itself (no contacts here)."""
    body = json.loads((ROOT / "metadata" / "activities" / "meeting.json").read_text("utf-8"))
    for fdef in body["fields"]:
        if fdef["type"] == "regarding":
            fdef["entities"] = ["meeting"]
    body.pop("indexes", None)
    return dict(body)


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    rep = role("rep", entities={"meeting": {"read": "own", "create": "all", "update": "own"}})
    with open_web(isolated_database_url, tmp_path,
                  roles=(role("boss", admin=True), rep, shipped_meeting()),
                  RATELIMIT_ENABLED=False) as app:
        yield app


def test_the_owner_is_reminded_before_a_planned_meeting_only(web: Web) -> None:
    services = web.app.extensions["metacrm"].services
    ann = str(web.create_user("ann", "rep").id)
    web.create_user("root", "boss")
    root, mine = bearer(web.login("root")), bearer(web.login("ann"))
    services.notifications.save_preferences(
        services.subjects.subject_of(ann), 15, "off")
    for subject, status in (("Demo", "planned"), ("Called off", "cancelled")):
        response = web.client.post("/api/v1/records/meeting", headers=root, json={
            "subject": subject, "status": status, "owner": ann,
            "starts_at": STARTS.isoformat()})
        assert response.status_code == 201, response.get_json()
    tick = services.periodic[TASK_NAME]

    tick(STARTS - timedelta(minutes=16))
    before = web.client.get("/api/v1/notifications", headers=mine).get_json()["data"]
    tick(STARTS - timedelta(minutes=15))
    after = web.client.get("/api/v1/notifications", headers=mine).get_json()["data"]

    assert [n for n in before if n["kind"] == "reminder"] == []
    assert [n["record"]["subject"] for n in after if n["kind"] == "reminder"] == ["Demo"]
