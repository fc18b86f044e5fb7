"""Each subscription receives exactly the payload format version it pins, valid against
that version's published schema and its OpenAPI description; a deprecated version's
deliveries say so in their headers.

Deliveries go to a real HTTP server on loopback that verifies their signature and checks
the body against `schemas/webhooks/` by the version it declares (`webhook_receiver`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from webhook_harness import DEAL, DEAL_FLOW, DOCUMENTS, LABEL, WebhookWorld, webhook_world

from metacrm.api.openapi import build_openapi
from metacrm.services.records.merge import MergeService
from web_harness import role
from webhook_receiver import Delivery, Receiver, receiver

TITLED_DEAL = {**DEAL, "title_field": "title"}
TITLE_BLIND = role("title_blind", entities={"deal": {"read": "all",
                                                     "fields": {"title": "hidden"}}})
TITLED_DOCUMENTS = (TITLED_DEAL, DEAL_FLOW, *DOCUMENTS[2:], TITLE_BLIND)
DEPRECATION_HEADERS = ("deprecation", "sunset", "link")


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[WebhookWorld]:
    with webhook_world(isolated_database_url, tmp_path, documents=TITLED_DOCUMENTS) as world:
        yield world


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiver() as server:
        yield server


def _openapi_errors(world: WebhookWorld, delivery: Delivery) -> list[str]:
    """What the OpenAPI document's `webhooks` entry of the delivery's version finds wrong."""
    live = world.services.metadata.live()
    document = build_openapi(live.model, world.services.registry, version_number=1)
    version = delivery.json["data"]["version"]
    body = document["webhooks"][f"record-event-v{version}"]["post"]["requestBody"]
    schema = {**body["content"]["application/json"]["schema"],
              "components": document["components"]}
    validator = jsonschema.Draft202012Validator(schema,
                                                format_checker=jsonschema.FormatChecker())
    return [error.message for error in validator.iter_errors(delivery.json)]


def _change_a_deal(world: WebhookWorld) -> str:
    deal = world.create_deal(world.boss, title="Roof", amount="12.50", margin="3")
    world.services.records.update(world.boss, "deal", deal["id"], {"amount": "20"})
    world.services.transitions.transition(world.boss, "deal", deal["id"], "win",
                                                      {"amount": "21"})
    world.services.records.delete(world.boss, "deal", deal["id"])
    return str(deal["id"])


def test_each_subscription_gets_its_pinned_version_valid_against_its_schema(
    world: WebhookWorld, rx: Receiver
) -> None:
    old = world.subscribe(world.boss, rx.url("/v1"), payload_version=1)
    new = world.webhooks.create(world.boss, {"url": rx.url("/v2")})  # the API's default
    assert (old["payload_version"], new["payload_version"]) == (1, 2)
    rx.secrets = [old["secret"], new["secret"]]

    deal_id = _change_a_deal(world)

    types = ["record.created", "record.updated", "record.transitioned", "record.deleted"]
    v1, v2 = rx.received("/v1"), rx.received("/v2")
    assert [d.json["type"] for d in v1] == [d.json["type"] for d in v2] == types
    for delivery, secret, version in [*((d, old["secret"], 1) for d in v1),
                                      *((d, new["secret"], 2) for d in v2)]:
        assert delivery.json["data"]["version"] == version
        assert delivery.verified_with == [secret]
        assert delivery.schema_errors == []
        assert _openapi_errors(world, delivery) == []
    assert [d.webhook_id for d in v1] == [d.webhook_id for d in v2]

    updated = v2[1].json["data"]
    assert updated["event_id"] == v2[1].webhook_id
    assert (updated["entity"], updated["entity_label"], updated["id"], updated["title"]) == (
        "deal", LABEL, deal_id, "Roof")
    assert updated["changes"] == [{"field": "amount", "from": "12.50", "to": "20.00"}]
    assert "changed" not in updated and "previous" not in updated
    transitioned = v2[2].json["data"]
    assert transitioned["transition"] == {"pipeline": "deal_flow", "name": "win",
                                          "from": "open", "to": "won"}
    assert sorted(transitioned["changes"], key=lambda c: c["field"]) == [
        {"field": "amount", "from": "20.00", "to": "21.00"},
        {"field": "stage", "from": "open", "to": "won"}]
    assert "changes" not in v2[0].json["data"] and "changes" not in v2[3].json["data"]
    assert v1[1].json["data"]["changed"] == ["amount"]
    assert v1[1].json["data"]["previous"] == {"amount": "12.50"}


def test_deliveries_of_the_deprecated_version_carry_deprecation_headers(
    world: WebhookWorld, rx: Receiver
) -> None:
    old = world.subscribe(world.boss, rx.url("/v1"), payload_version=1)
    world.subscribe(world.boss, rx.url("/v2"), payload_version=2)
    rx.secrets = [old["secret"]]

    world.create_deal(world.boss)

    (v1,) = rx.received("/v1")
    (v2,) = rx.received("/v2")
    assert v1.headers["deprecation"] == "@1796601600"  # 2026-12-07T00:00:00Z
    assert v1.headers["sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert v1.headers["link"] == ('<https://metacrm.dev/docs/api.html#contract-versioning>; '
                                  'rel="deprecation"; type="text/html"')
    assert v1.verified_with == [old["secret"]], "the headers do not disturb the signature"
    assert not set(DEPRECATION_HEADERS) & set(v2.headers)


def test_a_subscription_moved_to_version_2_receives_version_2_from_then_on(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url(), payload_version=1)
    world.create_deal(world.boss, title="before")
    moved = world.webhooks.update(world.boss, hook["id"], {"payload_version": 2})
    assert (moved["payload_version"], moved["payload_deprecation"]) == (2, None)
    world.create_deal(world.boss, title="after")

    before, after = rx.received()
    assert (before.json["data"]["version"], after.json["data"]["version"]) == (1, 2)
    assert "deprecation" in before.headers and "deprecation" not in after.headers
    assert before.schema_errors == after.schema_errors == []


def test_version_2_shows_the_owner_only_what_they_may_see(
    world: WebhookWorld, rx: Receiver
) -> None:
    ann = world.user("ann", "rep")  # margin hidden
    tina = world.user("tina", "title_blind")  # title hidden
    world.subscribe(ann, rx.url("/ann"), payload_version=2)
    world.subscribe(tina, rx.url("/tina"), payload_version=2)
    deal = world.create_deal(world.boss, owner=ann.user_id, title="Roof", amount="10",
                             margin="4")

    world.services.records.update(world.boss, "deal", deal["id"],
                                  {"amount": "11", "margin": "5", "title": "Roof 2"})

    to_ann: Any = rx.received("/ann")[1].json["data"]
    assert to_ann["title"] == "Roof 2"
    assert sorted(c["field"] for c in to_ann["changes"]) == ["amount", "title"]
    assert "margin" not in to_ann["record"]
    to_tina: Any = rx.received("/tina")[1].json["data"]
    assert to_tina["title"] is None, "the title field is hidden from tina"
    assert "title" not in to_tina["record"]
    assert sorted(c["field"] for c in to_tina["changes"]) == ["amount", "margin"]
    assert all(d.schema_errors == [] for d in rx.received("/ann") + rx.received("/tina"))


def test_a_merge_reaches_star_subscriptions_of_both_versions_naming_the_merged_ids(
    world: WebhookWorld, rx: Receiver
) -> None:
    old = world.subscribe(world.boss, rx.url("/v1"), payload_version=1, events=["*"])
    new = world.subscribe(world.boss, rx.url("/v2"), payload_version=2,
                          events=["record.merged"])
    rx.secrets = [old["secret"], new["secret"]]
    keep = world.create_deal(world.boss, title="Roof")
    gone = world.create_deal(world.boss, title="Roof (copy)")

    merge = MergeService(world.services.records).merge(
        world.boss, "deal", {"ids": [keep["id"], gone["id"]], "survivor": keep["id"]})

    v1 = [d for d in rx.received("/v1") if d.json["type"] == "record.merged"]
    v2 = rx.received("/v2")
    assert [d.json["type"] for d in v2] == ["record.merged"]
    for delivery in (*v1, *v2):
        data = delivery.json["data"]
        assert (data["id"], data["merge"], data["merged"]) == (
            keep["id"], merge["merge"], [gone["id"]])
        assert delivery.schema_errors == []
        assert _openapi_errors(world, delivery) == []
    assert len(v1) == 1 and "changes" not in v2[0].json["data"]
