"""The automation API: a sync trigger's failure as a 422 problem, the runs log (filters,
keyset pages, admins only) and the dry run of a trigger (which changes and sends nothing)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from trigger_world import MODEL, create_task, set_fields, trigger

from metacrm.api import RUNTIME_KEY
from metacrm.storage.system_tables import automation_runs, outbox
from web_harness import Web, bearer, open_web

RUNS = "/api/v1/automation/runs"
SEND_MAIL = {"type": "send_email", "params": {
    "to": ["team@example.com"], "subject": "Hot lead {{ record.name }}",
    "body": "{{ record.name }} is hot"}}
TRIGGERS = (
    trigger("welcome", "created", create_task("Say hello"), mode="sync"),
    trigger("rate_from_name", "created", set_fields(rating={"template": "{{ record.name }}"}),
            mode="sync", condition={"field": "note", "op": "eq", "value": "rate me"}),
    trigger("heated", "field_changed", create_task("Call {{ record.name }}"), SEND_MAIL,
            fields=["rating"], to=["hot"], **{"from": ["cold"]},
            condition={"field": "status", "op": "eq", "value": "new"}),
    trigger("stale", "time", set_fields(note="stale"), date_field="updated_at",
            offset={"days": 7}, condition={"field": "status", "op": "eq", "value": "new"}),
)


class Inbox:
    """An aiosmtpd handler keeping the recipients of every message it accepts."""

    def __init__(self) -> None:
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class Api:
    """The app, its test client and the headers of an admin (`root`) and a clerk (`ann`)."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.client = web.client
        web.create_user("root", "boss")
        web.create_user("ann", "clerk")
        self.admin = bearer(web.login("root"))
        self.clerk = bearer(web.login("ann"))


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path, inbox: tuple[Inbox, int]) -> Iterator[Api]:
    _, port = inbox
    changes = {"rate_limit": "100000 per minute", "smtp_url": f"smtp://127.0.0.1:{port}"}
    with open_web(isolated_database_url, tmp_path, roles=(*MODEL, *TRIGGERS),
                  settings_changes=changes) as web:
        yield Api(web)


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem document of `response`, which must have `status`."""
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.mimetype == "application/problem+json"
    document: dict[str, Any] = response.get_json()
    return document


def create_lead(api: Api, **values: Any) -> dict[str, Any]:
    response = api.client.post("/api/v1/records/lead", json=values, headers=api.admin)
    assert response.status_code == 201, response.get_json()
    lead: dict[str, Any] = response.get_json()["data"]
    return lead


def count(api: Api, table: sa.Table) -> int:
    engine = api.web.app.extensions[RUNTIME_KEY].services.engine
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_failing_sync_trigger_answers_422_naming_it(api: Api) -> None:
    response = api.client.post("/api/v1/records/lead", json={"name": "boom",
                                                              "note": "rate me"},
                               headers=api.admin)

    document = problem(response, 422)
    assert document["detail"].startswith("trigger 'rate_from_name' failed")
    assert [error["pointer"] for error in document["errors"]] == ["/triggers/rate_from_name"]
    listed = api.client.get("/api/v1/records/lead", headers=api.admin).get_json()
    assert listed["data"] == []


def test_runs_are_listed_newest_first_filtered_and_paged(api: Api) -> None:
    leads = [create_lead(api, name=f"lead{index}") for index in range(3)]

    everything = api.client.get(RUNS, headers=api.admin).get_json()
    assert [run["record_id"] for run in everything["data"]] == [
        lead["id"] for lead in reversed(leads)]
    assert {(run["trigger"], run["status"], run["mode"]) for run in everything["data"]} == {
        ("welcome", "ok", "sync")}
    assert everything["meta"]["next_cursor"] is None

    one = api.client.get(RUNS, query_string={"record_id": leads[1]["id"]},
                         headers=api.admin).get_json()["data"]
    assert [run["record_id"] for run in one] == [leads[1]["id"]]
    assert api.client.get(RUNS, query_string={"status": "failed"},
                          headers=api.admin).get_json()["data"] == []
    assert api.client.get(RUNS, query_string={"trigger": "heated"},
                          headers=api.admin).get_json()["data"] == []

    seen, cursor = [], None
    while True:
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = api.client.get(RUNS, query_string=query, headers=api.admin).get_json()
        seen += [run["id"] for run in page["data"]]
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert seen == [run["id"] for run in everything["data"]]


@pytest.mark.parametrize("query, pointer", [
    ({"status": "done"}, "/status"),
    ({"limit": "0"}, "/limit"),
    ({"limit": "many"}, "/limit"),
    ({"cursor": "not-a-cursor"}, "/cursor"),
    ({"colour": "red"}, "/colour"),
])
def test_bad_listing_parameters_are_422(api: Api, query: dict[str, str], pointer: str) -> None:
    document = problem(api.client.get(RUNS, query_string=query, headers=api.admin), 422)

    assert pointer in {error["pointer"] for error in document["errors"]}


def test_only_admins_see_and_test_automation(api: Api) -> None:
    lead = create_lead(api, name="ann")

    problem(api.client.get(RUNS), 401)
    problem(api.client.get(RUNS, headers=api.clerk), 403)
    problem(api.client.post("/api/v1/automation/triggers/welcome/test",
                            json={"record_id": lead["id"]}, headers=api.clerk), 403)


def test_a_dry_run_says_what_would_happen_and_changes_nothing(
        api: Api, inbox: tuple[Inbox, int]) -> None:
    mailbox, _ = inbox
    lead = create_lead(api, name="ann", rating="hot", status="new")
    before = (count(api, outbox), count(api, automation_runs))
    tasks_before = api.client.get("/api/v1/records/task", headers=api.admin).get_json()

    response = api.client.post("/api/v1/automation/triggers/heated/test",
                               json={"record_id": lead["id"], "previous": {"rating": "cold"}},
                               headers=api.admin)

    assert response.status_code == 200, response.get_json()
    result = response.get_json()["data"]
    assert (result["trigger"], result["record_id"]) == ("heated", lead["id"])
    assert (result["matches"], result["condition"]) == (True, True)
    assert [action["type"] for action in result["actions"]] == ["create_record",
                                                                 "send_email"]
    assert all("result" in action for action in result["actions"]), result["actions"]
    assert "Call ann" in str(result["actions"][0]["result"])
    assert (count(api, outbox), count(api, automation_runs)) == before
    assert api.client.get("/api/v1/records/task", headers=api.admin).get_json() == tasks_before
    assert mailbox.recipients == []

    warm = api.client.post("/api/v1/automation/triggers/heated/test",
                           json={"record_id": lead["id"], "previous": {"rating": "warm"}},
                           headers=api.admin).get_json()["data"]
    assert (warm["matches"], warm["condition"]) == (False, True)


def test_a_time_trigger_dry_run_matches_on_its_condition(api: Api) -> None:
    fresh = create_lead(api, name="ann", status="new")
    other = create_lead(api, name="bob", status="contacted")

    def tried(lead: dict[str, Any]) -> dict[str, Any]:
        response = api.client.post("/api/v1/automation/triggers/stale/test",
                                   json={"record_id": lead["id"]}, headers=api.admin)
        assert response.status_code == 200, response.get_json()
        data: dict[str, Any] = response.get_json()["data"]
        return data

    assert (tried(fresh)["matches"], tried(other)["matches"]) == (True, False)
    assert tried(fresh)["actions"][0]["type"] == "set_fields"
    note = api.client.get(f"/api/v1/records/lead/{fresh['id']}", headers=api.admin)
    assert note.get_json()["data"]["note"] is None


@pytest.mark.parametrize("path, body, status, pointer", [
    ("nope", {"record_id": "x"}, 404, None),
    ("heated", {"record_id": "01234567-89ab-7def-8123-456789abcdef"}, 404, "/record_id"),
    ("heated", {"record_id": 7}, 422, "/record_id"),
    ("heated", {"record_id": "x", "previous": {"colour": "red"}}, 422, "/previous/colour"),
    ("heated", {"record_id": "x", "extra": 1}, 422, "/extra"),
    ("heated", [], 422, ""),
])
def test_dry_run_requests_are_checked(api: Api, path: str, body: Any, status: int,
                                      pointer: str | None) -> None:
    response = api.client.post(f"/api/v1/automation/triggers/{path}/test", json=body,
                               headers=api.admin)

    document = problem(response, status)
    if pointer is not None:
        assert pointer in {error["pointer"] for error in document["errors"]}
