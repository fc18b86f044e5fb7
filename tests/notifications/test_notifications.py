"""Notifications as users rely on them: told when a record is assigned to them or an
automation names them, only about records they may read, marked read by them alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from metacrm.kernel.jobs import EventRecord, WorkItem
from metacrm.notifications.assignments import AssignmentNotifications
from web_harness import Web, bearer, open_web, role


def labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


DEAL = {"kind": "entity", "name": "deal", "version": 1, "label": labels("Deal"),
        "title_field": "title",
        "fields": [{"name": "title", "type": "text", "label": labels("Title")},
                   {"name": "secret", "type": "text", "label": labels("Secret")},
                   {"name": "reviewer", "type": "user", "label": labels("Reviewer")}]}
MEMO = {"kind": "entity", "name": "memo", "version": 1, "label": labels("Memo"),
        "fields": [{"name": "title", "type": "text", "label": labels("Title")}]}
NOTIFY_REVIEWER = {
    "kind": "trigger", "name": "ask_review", "version": 1, "label": labels("Ask review"),
    "entity": "deal", "event": "created", "mode": "sync",
    "actions": [{"type": "notify", "params": {
        "to": ["reviewer"], "message": "Please review {{ record.title }}"}}],
}
REP = role("rep", entities={
    "deal": {"read": "own", "create": "all", "update": "own", "delete": "none",
             "export": "none", "fields": {"secret": "hidden"}},
    "memo": {"read": "none", "create": "none", "update": "none", "delete": "none",
             "export": "none"},
})


class World:
    def __init__(self, web: Web) -> None:
        self.web = web
        self.client = web.client
        self.ids = {name: str(web.create_user(name, role_name).id)
                    for name, role_name in (("root", "boss"), ("ann", "rep"), ("bob", "rep"))}
        self.auth = {name: bearer(web.login(name)) for name in self.ids}

    def create(self, who: str, entity: str, **values: Any) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/records/{entity}", json=values,
                                    headers=self.auth[who])
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json()["data"])

    def notifications(self, who: str, **query: str) -> dict[str, Any]:
        response = self.client.get("/api/v1/notifications", headers=self.auth[who],
                                   query_string=query)
        assert response.status_code == 200, response.get_json()
        return dict(response.get_json())


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    with open_web(isolated_database_url, tmp_path,
                  roles=(role("boss", admin=True), REP, DEAL, MEMO, NOTIFY_REVIEWER),
                  RATELIMIT_ENABLED=False) as web:
        yield World(web)


def test_an_assigned_record_is_announced_to_its_new_owner(world: World) -> None:
    deal = world.create("root", "deal", title="Acme renewal", secret="margin 40%",
                        owner=world.ids["ann"])
    found = world.notifications("ann")
    assert found["meta"]["unread"] == 1
    [item] = found["data"]
    assert (item["kind"], item["entity"], item["record_id"], item["actor"]) == (
        "assigned", "deal", deal["id"], world.ids["root"])
    assert item["record"]["title"] == "Acme renewal"
    assert "secret" not in item["record"]          # as ann may see the deal: no hidden field
    assert world.notifications("bob")["data"] == []


def test_taking_a_record_yourself_announces_nothing(world: World) -> None:
    world.create("ann", "deal", title="Mine")
    assert world.notifications("ann")["data"] == []


def test_reassigning_tells_the_new_owner_only(world: World) -> None:
    deal = world.create("root", "deal", title="Moves", owner=world.ids["ann"])
    response = world.client.patch(f"/api/v1/records/deal/{deal['id']}",
                                  json={"owner": world.ids["bob"]},
                                  headers=world.auth["root"])
    assert response.status_code == 200, response.get_json()
    assert [n["record_id"] for n in world.notifications("bob")["data"]] == [deal["id"]]
    # ann's own notice of the deal is hidden now: she may no longer read it (own scope)
    assert world.notifications("ann") == {"data": [], "meta": {"unread": 0,
                                                               "next_cursor": None}}


def test_a_record_the_user_cannot_read_is_neither_shown_nor_counted(world: World) -> None:
    world.create("root", "memo", title="Board minutes", owner=world.ids["ann"])
    found = world.notifications("ann")
    assert found["data"] == [] and found["meta"]["unread"] == 0


def test_an_automation_notifies_the_user_it_names(world: World) -> None:
    deal = world.create("ann", "deal", title="Big one", reviewer=world.ids["root"])
    [item] = world.notifications("root")["data"]
    assert (item["kind"], item["message"], item["actor"], item["record_id"]) == (
        "automation", "Please review Big one", "trigger:ask_review", deal["id"])


def test_an_automation_message_never_reaches_someone_who_cannot_read_the_record(
        world: World) -> None:
    world.create("ann", "deal", title="Confidential", reviewer=world.ids["bob"])
    found = world.notifications("bob")     # bob may read only his own deals
    assert found["data"] == [] and found["meta"]["unread"] == 0


def test_marking_read_changes_only_the_callers_notifications(world: World) -> None:
    world.create("root", "deal", title="One", owner=world.ids["ann"])
    world.create("root", "deal", title="Two", owner=world.ids["ann"])
    world.create("root", "deal", title="Three", owner=world.ids["bob"])
    ann_ids = [n["id"] for n in world.notifications("ann")["data"]]
    bob_ids = [n["id"] for n in world.notifications("bob")["data"]]
    stolen = world.client.post("/api/v1/notifications/read", json={"ids": bob_ids},
                               headers=world.auth["ann"])
    assert stolen.get_json()["data"] == {"marked": 0, "unread": 2}
    one = world.client.post("/api/v1/notifications/read", json={"ids": ann_ids[:1]},
                            headers=world.auth["ann"])
    assert one.get_json()["data"] == {"marked": 1, "unread": 1}
    assert [n["id"] for n in world.notifications("ann", unread="true")["data"]] == ann_ids[1:]
    everything = world.client.post("/api/v1/notifications/read", json={"all": True},
                                   headers=world.auth["ann"])
    assert everything.get_json()["data"] == {"marked": 1, "unread": 0}
    assert world.notifications("bob")["meta"]["unread"] == 1


def test_pages_follow_the_cursor_newest_first(world: World) -> None:
    for title in ("a", "b", "c"):
        world.create("root", "deal", title=title, owner=world.ids["ann"])
    first = world.notifications("ann", limit="2")
    second = world.notifications("ann", limit="2", cursor=first["meta"]["next_cursor"])
    titles = [n["record"]["title"] for n in first["data"] + second["data"]]
    assert titles == ["c", "b", "a"] and second["meta"]["next_cursor"] is None


@pytest.mark.parametrize(("query", "body", "pointer"), [
    ({"limit": "0"}, None, "/limit"),
    ({"unread": "yes"}, None, "/unread"),
    ({"cursor": "not-a-cursor"}, None, "/cursor"),
    ({"colour": "red"}, None, "/colour"),
    ({}, {"ids": ["nope"]}, "/ids/0"),
    ({}, {"all": False}, "/all"),
    ({}, {"ids": [], "all": True}, ""),
])
def test_bad_requests_name_the_problem(world: World, query: dict[str, str],
                                       body: Any, pointer: str) -> None:
    if body is None:
        response = world.client.get("/api/v1/notifications", headers=world.auth["ann"],
                                    query_string=query)
    else:
        response = world.client.post("/api/v1/notifications/read", json=body,
                                     headers=world.auth["ann"])
    assert response.status_code == 422, response.get_json()
    assert pointer in [e["pointer"] for e in response.get_json()["errors"]]


def test_a_retried_work_item_notifies_once(world: World) -> None:
    services = world.web.app.extensions["metacrm"].services
    consumer = AssignmentNotifications(services.engine, services.clock)
    deal = world.create("root", "deal", title="Once", owner=world.ids["ann"])
    event = EventRecord(id="0190a0a0-0000-7000-8000-000000000001", type="record.updated",
                        entity="deal", record_id=deal["id"],
                        payload={"record": {**deal, "owner": world.ids["ann"]},
                                 "changed": ["owner"], "actor": world.ids["root"]},
                        created_at=services.clock())
    assert consumer.targets(event) == (world.ids["ann"],)
    item = WorkItem(id="item-1", consumer="notifications", target=world.ids["ann"],
                    event=event, attempt=1)
    consumer.handle(item)
    consumer.handle(replace(item, attempt=2))
    # one from creating the deal, one from this event: the retry added nothing
    assert len(world.notifications("ann")["data"]) == 2
