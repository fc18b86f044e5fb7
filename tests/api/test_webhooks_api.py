"""The webhooks API: own subscriptions, validation with pointers, SSRF refusals, rotation,
the delivery log and redelivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, open_api, pointers, problem

from web_harness import role
from webhook_receiver import receiver

PUBLIC_URL = "https://93.184.216.34/hooks/crm"
DEAL = entity("deal", field("title", "text", indexed=True), field("amount", "decimal"),
              field("margin", "decimal"))
CLERK = role("clerk", entities={"deal": {
    "read": "own", "create": "all", "update": "own", "delete": "own",
    "fields": {"margin": "hidden"}}})
DOCUMENTS = (DEAL, ADMIN_ROLE, CLERK, role("stranger"))
BASE = "/api/v1/webhooks"


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, *DOCUMENTS) as api:
        yield api


def create(api: Api, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = api.client.post(BASE, json={"url": PUBLIC_URL, **body}, headers=headers)
    assert response.status_code == 201, response.get_json()
    document: dict[str, Any] = response.get_json()["data"]
    return document


def test_a_user_creates_and_manages_their_own_subscription(api: Api) -> None:
    response = api.client.post(BASE, json={"url": PUBLIC_URL, "events": ["record.created"],
                                           "entity": "deal"}, headers=api.clerk)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()["data"]
    assert created["secret"].startswith("whsec_")
    assert response.headers["Location"].endswith(f"{BASE}/{created['id']}")
    assert response.headers["ETag"] == f'"{created["id"]}:1"'
    assert (created["events"], created["entity"], created["enabled"]) == (
        ["record.created"], "deal", True)

    shown = api.client.get(f"{BASE}/{created['id']}", headers=api.clerk).get_json()["data"]
    assert "secret" not in shown
    assert shown["url"] == PUBLIC_URL

    changed = api.client.patch(f"{BASE}/{created['id']}", headers={
        **api.clerk, "If-Match": f'"{created["id"]}:1"'}, json={"events": ["*"]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["data"]["events"] == ["*"]
    assert changed.get_json()["data"]["version"] == 2
    stale = api.client.patch(f"{BASE}/{created['id']}", headers={
        **api.clerk, "If-Match": f'"{created["id"]}:1"'}, json={"enabled": False})
    problem(stale, 412)

    assert api.client.delete(f"{BASE}/{created['id']}", headers=api.clerk).status_code == 204
    problem(api.client.get(f"{BASE}/{created['id']}", headers=api.clerk), 404)


def test_users_see_only_their_own_subscriptions_and_admins_see_all(api: Api) -> None:
    mine = create(api, api.clerk)
    other = api.user("olga", "clerk")
    theirs = create(api, other)

    assert [h["id"] for h in api.client.get(BASE, headers=api.clerk).get_json()["data"]] == [
        mine["id"]]
    for method in ("get", "patch", "delete"):
        answer = getattr(api.client, method)(f"{BASE}/{theirs['id']}", headers=api.clerk,
                                             json={"enabled": False})
        problem(answer, 404)
    problem(api.client.post(f"{BASE}/{theirs['id']}/rotate-secret", headers=api.clerk), 404)
    problem(api.client.get(f"{BASE}/{theirs['id']}/deliveries", headers=api.clerk), 404)

    everyone = api.client.get(BASE, headers=api.admin).get_json()["data"]
    assert {h["id"] for h in everyone} == {mine["id"], theirs["id"]}
    assert api.client.patch(f"{BASE}/{theirs['id']}", headers=api.admin,
                            json={"enabled": False}).status_code == 200


def test_listing_pages_with_a_cursor(api: Api) -> None:
    ids = [create(api, api.clerk)["id"] for _ in range(3)]
    first = api.client.get(BASE, headers=api.clerk, query_string={"limit": 2}).get_json()
    assert [h["id"] for h in first["data"]] == ids[:2]
    rest = api.client.get(BASE, headers=api.clerk, query_string={
        "limit": 2, "cursor": first["meta"]["next_cursor"]}).get_json()
    assert [h["id"] for h in rest["data"]] == ids[2:]
    assert rest["meta"]["next_cursor"] is None
    bad = problem(api.client.get(BASE, headers=api.clerk,
                                 query_string={"limit": 0, "cursor": "%%%", "x": 1}), 422)
    assert pointers(bad) == {"/limit", "/x"}
    problem(api.client.get(BASE, headers=api.clerk, query_string={"cursor": "%%%"}), 422)
    empty = problem(api.client.get(f"{BASE}?cursor=", headers=api.clerk), 422)
    assert pointers(empty) == {"/cursor"}


BAD_INPUT: list[tuple[dict[str, Any], set[str]]] = [
    ({"url": "ftp://93.184.216.34/"}, {"/url"}),
    ({"url": "https://user:pw@93.184.216.34/"}, {"/url"}),
    ({"url": 42}, {"/url"}),
    ({}, {"/url"}),
    ({"url": PUBLIC_URL, "events": ["record.exploded", "record.created", "record.created"]},
     {"/events/0", "/events/2"}),
    ({"url": PUBLIC_URL, "events": []}, {"/events"}),
    ({"url": PUBLIC_URL, "entity": "spaceship"}, {"/entity"}),
    ({"url": PUBLIC_URL, "filter": {"field": "title", "op": "eq", "value": "x"}},
     {"/filter"}),
    ({"url": PUBLIC_URL, "entity": "deal",
      "filter": {"field": "title", "op": "boom", "value": 1}}, {"/filter/op"}),
    ({"url": PUBLIC_URL, "entity": "deal",
      "filter": {"field": "margin", "op": "gt", "value": 1}}, {"/filter/field"}),
    ({"url": PUBLIC_URL, "secret": "not-a-secret"}, {"/secret"}),
    ({"url": PUBLIC_URL, "enabled": "yes"}, {"/enabled"}),
    ({"url": PUBLIC_URL, "colour": "red"}, {"/colour"}),
]


def test_bad_input_is_a_problem_document_pointing_at_it(api: Api) -> None:
    for body, expected in BAD_INPUT:
        answer = problem(api.client.post(BASE, json=body, headers=api.clerk), 422)
        assert pointers(answer) == expected, body


def test_an_entity_the_owner_cannot_read_is_unknown_to_them(api: Api) -> None:
    stranger = api.user("sam", "stranger")
    answer = problem(api.client.post(BASE, json={"url": PUBLIC_URL, "entity": "deal"},
                                     headers=stranger), 422)
    assert pointers(answer) == {"/entity"}
    assert create(api, api.admin, entity="deal",
                  filter={"field": "margin", "op": "gt", "value": 1})["entity"] == "deal"


REFUSED_URLS = [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.0.0.5/",
    "http://192.168.0.10/", "http://172.20.1.1/", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[fe80::1]/", "http://100.64.1.1/",
    "http://0.0.0.0/", "http://2130706433/", "http://0x7f.1/", "http://017700000001/",
    "http://127.1/", "http://metadata.google.internal/", "http://[fd00:ec2::254]/",
]


def test_private_and_metadata_targets_are_refused_with_a_pointer_at_url(api: Api) -> None:
    hook = create(api, api.clerk)
    for url in REFUSED_URLS:
        answer = problem(api.client.post(BASE, json={"url": url}, headers=api.clerk), 422)
        assert pointers(answer) == {"/url"}, url
        message = answer["errors"][0]["message"]
        assert "public internet" in message or "metadata" in message, (url, message)
        changed = api.client.patch(f"{BASE}/{hook['id']}", json={"url": url},
                                   headers=api.clerk)
        assert pointers(problem(changed, 422)) == {"/url"}, url


def test_the_secret_is_rotated_not_patched(api: Api) -> None:
    hook = create(api, api.clerk)
    refused = api.client.patch(f"{BASE}/{hook['id']}", json={"secret": hook["secret"]},
                               headers=api.clerk)
    assert pointers(problem(refused, 422)) == {"/secret"}

    rotated = api.client.post(f"{BASE}/{hook['id']}/rotate-secret", headers=api.clerk)
    assert rotated.status_code == 200, rotated.get_json()
    data = rotated.get_json()["data"]
    assert data["secret"] != hook["secret"] and data["secret"].startswith("whsec_")
    assert data["previous_secret_expires_at"] is not None

    mine = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    chosen = api.client.post(f"{BASE}/{hook['id']}/rotate-secret", json={"secret": mine},
                             headers=api.clerk)
    assert chosen.get_json()["data"]["secret"] == mine
    bad = api.client.post(f"{BASE}/{hook['id']}/rotate-secret", json={"secret": "x"},
                          headers=api.clerk)
    assert pointers(problem(bad, 422)) == {"/secret"}


def test_anonymous_callers_are_refused(api: Api) -> None:
    problem(api.client.get(BASE), 401)
    problem(api.client.post(BASE, json={"url": PUBLIC_URL}), 401)


def test_the_delivery_log_lists_attempts_newest_first_and_redelivers(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with open_api(isolated_database_url, tmp_path, *DOCUMENTS,
                  webhook_allow_private=True) as api, receiver() as rx:
        hook = create(api, api.clerk, url=rx.url())
        rx.answer(500)
        for title in ("one", "two"):
            made = api.client.post("/api/v1/records/deal", json={"title": title},
                                   headers=api.clerk)
            assert made.status_code == 201
        first_event = rx.received()[0].webhook_id

        log = api.client.get(f"{BASE}/{hook['id']}/deliveries", headers=api.clerk,
                             query_string={"limit": 1}).get_json()
        assert [a["status_code"] for a in log["data"]] == [200]
        older = api.client.get(f"{BASE}/{hook['id']}/deliveries", headers=api.clerk,
                               query_string={"cursor": log["meta"]["next_cursor"]}).get_json()
        assert [(a["event_id"], a["status_code"], a["attempt"]) for a in older["data"]] == [
            (first_event, 500, 1)]
        assert older["data"][0]["response_excerpt"].startswith("receiver says no")
        assert older["data"][0]["latency_ms"] >= 0

        again = api.client.post(f"{BASE}/{hook['id']}/deliveries/{first_event}/redeliver",
                                headers=api.clerk)
        assert again.status_code == 202, again.get_json()
        assert rx.received()[-1].webhook_id == first_event
        only_first = api.client.get(f"{BASE}/{hook['id']}/deliveries", headers=api.clerk,
                                    query_string={"event_id": first_event}).get_json()
        assert [(a["attempt"], a["status_code"]) for a in only_first["data"]] == [
            (2, 200), (1, 500)]

        unknown = api.client.post(f"{BASE}/{hook['id']}/deliveries/nope/redeliver",
                                  headers=api.clerk)
        problem(unknown, 404)
        bad_cursor = api.client.get(f"{BASE}/{hook['id']}/deliveries", headers=api.clerk,
                                    query_string={"cursor": "bm9wZQ"})
        assert pointers(problem(bad_cursor, 422)) == {"/cursor"}
