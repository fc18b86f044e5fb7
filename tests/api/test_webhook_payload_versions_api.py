"""Webhook subscriptions pin a payload format version: the newest by default, a deprecated
one announced in the representation and with Deprecation/Sunset/Link headers, unknown or
sunset ones refused with the supported ones named."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, open_api, pointers, problem

from metacrm.api import web_runtime
from metacrm.webhooks.formats import CONTRACT_DOCS, VERSION_1_SUNSET
from web_harness import role

PUBLIC_URL = "https://93.184.216.34/hooks/crm"
BASE = "/api/v1/webhooks"
DOCUMENTS = (entity("deal", field("title", "text")), ADMIN_ROLE,
             role("clerk", entities={"deal": {"read": "own", "create": "all"}}))
VERSION_1_DEPRECATION = {"deprecated_since": "2026-12-07T00:00:00Z",
                         "sunset": "2027-07-01T00:00:00Z", "link": CONTRACT_DOCS}


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, *DOCUMENTS) as api:
        yield api


def _set_clock(api: Api, moment: datetime) -> None:
    with api.web.app.app_context():
        web_runtime().services.clock = lambda: moment


def _assert_announces_version_1(response: Any) -> None:
    assert response.headers["Deprecation"] == "@1796601600"  # 2026-12-07T00:00:00Z
    assert response.headers["Sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert response.headers["Link"] == f'<{CONTRACT_DOCS}>; rel="deprecation"; type="text/html"'


def test_a_new_subscription_gets_the_newest_version_without_deprecation(api: Api) -> None:
    created = api.client.post(BASE, json={"url": PUBLIC_URL}, headers=api.clerk)
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert (data["payload_version"], data["payload_deprecation"]) == (2, None)
    read = api.client.get(f"{BASE}/{data['id']}", headers=api.clerk)
    for answer in (created, read):
        assert not {"Deprecation", "Sunset", "Link"} & set(answer.headers.keys())


def test_pinning_the_deprecated_version_is_announced_until_the_subscription_moves_on(
    api: Api,
) -> None:
    created = api.client.post(BASE, json={"url": PUBLIC_URL, "payload_version": 1},
                              headers=api.clerk)
    assert created.status_code == 201, created.get_json()
    hook = created.get_json()["data"]
    assert (hook["payload_version"], hook["payload_deprecation"]) == (1, VERSION_1_DEPRECATION)
    _assert_announces_version_1(created)
    read = api.client.get(f"{BASE}/{hook['id']}", headers=api.clerk)
    assert read.get_json()["data"]["payload_deprecation"] == VERSION_1_DEPRECATION
    _assert_announces_version_1(read)
    listed = api.client.get(BASE, headers=api.clerk).get_json()["data"]
    assert [h["payload_deprecation"] for h in listed] == [VERSION_1_DEPRECATION]
    _assert_announces_version_1(api.client.post(f"{BASE}/{hook['id']}/rotate-secret",
                                                headers=api.clerk))

    moved = api.client.patch(f"{BASE}/{hook['id']}", json={"payload_version": 2},
                             headers=api.clerk)
    assert moved.status_code == 200, moved.get_json()
    assert (moved.get_json()["data"]["payload_version"],
            moved.get_json()["data"]["payload_deprecation"]) == (2, None)
    assert "Deprecation" not in moved.headers
    assert api.client.get(f"{BASE}/{hook['id']}", headers=api.clerk).get_json()["data"][
        "payload_version"] == 2


@pytest.mark.parametrize("version", [0, 3, -1, "2", 2.0, True, None, [2]])
def test_an_unsupported_version_is_refused_naming_the_supported_ones(
    api: Api, version: Any
) -> None:
    refused = problem(api.client.post(BASE, json={"url": PUBLIC_URL, "payload_version": version},
                                      headers=api.clerk), 422)
    assert pointers(refused) == {"/payload_version"}
    (detail,) = refused["errors"]
    assert detail["message"].endswith("1, 2"), detail
    assert api.client.get(BASE, headers=api.clerk).get_json()["data"] == []


def test_a_patch_to_an_unsupported_version_changes_nothing(api: Api) -> None:
    hook = api.client.post(BASE, json={"url": PUBLIC_URL, "payload_version": 1},
                           headers=api.clerk).get_json()["data"]
    refused = problem(api.client.patch(f"{BASE}/{hook['id']}", headers=api.clerk,
                                       json={"payload_version": 9, "enabled": False}), 422)
    assert pointers(refused) == {"/payload_version"}
    kept = api.client.get(f"{BASE}/{hook['id']}", headers=api.clerk).get_json()["data"]
    assert (kept["payload_version"], kept["enabled"], kept["version"]) == (1, True, 1)


def test_after_its_sunset_version_1_can_no_longer_be_chosen(api: Api) -> None:
    before = api.client.post(BASE, json={"url": PUBLIC_URL, "payload_version": 1},
                             headers=api.clerk).get_json()["data"]
    _set_clock(api, VERSION_1_SUNSET + timedelta(seconds=1))

    refused = problem(api.client.post(BASE, json={"url": PUBLIC_URL, "payload_version": 1},
                                      headers=api.clerk), 422)
    (detail,) = refused["errors"]
    assert detail["pointer"] == "/payload_version"
    assert "sunset on 2027-07-01" in detail["message"] and detail["message"].endswith(
        "supported: 2")
    kept = api.client.get(f"{BASE}/{before['id']}", headers=api.clerk)
    assert kept.get_json()["data"]["payload_version"] == 1, "pinned subscriptions stay"
    assert api.client.patch(f"{BASE}/{before['id']}", json={"payload_version": 2},
                            headers=api.clerk).status_code == 200
    _set_clock(api, datetime(2027, 6, 30, 23, 59, tzinfo=UTC))
    assert api.client.post(BASE, json={"url": PUBLIC_URL, "payload_version": 1},
                           headers=api.clerk).status_code == 201


def test_the_openapi_document_describes_both_payload_versions(api: Api) -> None:
    answer = api.client.get("/api/v1/openapi.json", headers=api.admin)
    assert answer.status_code == 200
    document = answer.get_json()
    events = document["webhooks"]
    assert events["record-event-v1"]["post"]["deprecated"] is True
    assert "deprecated" not in events["record-event-v2"]["post"]
    v1_headers = {p["name"] for p in events["record-event-v1"]["post"]["parameters"]}
    assert {"webhook-id", "webhook-signature", "Deprecation", "Sunset", "Link"} <= v1_headers
    schemas = document["components"]["schemas"]
    assert schemas["WebhookPayloadV2Data"]["properties"]["version"] == {
        "const": 2, "description": "The payload format version."}
    assert schemas["Webhook"]["properties"]["payload_version"]["enum"] == [1, 2]
    assert schemas["WebhookCreate"]["properties"]["payload_version"]["default"] == 2
    read = document["paths"][f"{BASE}/{{webhook_id}}"]["get"]["responses"]["200"]
    assert {"Deprecation", "Sunset", "Link"} <= set(read["headers"])


def test_a_replayed_create_still_announces_the_deprecation(api: Api) -> None:
    headers = {**api.clerk, "Idempotency-Key": "hook-v1"}
    body = {"url": PUBLIC_URL, "payload_version": 1}
    first = api.client.post(BASE, json=body, headers=headers)
    replay = api.client.post(BASE, json=body, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["Idempotent-Replayed"] == "true"
    _assert_announces_version_1(replay)
