"""The automation action `call_webhook`: a trigger POSTs its record, signed, through the guard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from webhook_harness import DOCUMENTS, LABEL, webhook_world

from metacrm.automation.actions import ActionContext
from metacrm.kernel.errors import MetadataInvalid
from metacrm.kernel.jobs import EventRecord
from metacrm.metadata.documents import Document
from metacrm.storage import outbox
from metacrm.webhooks.action import WebhookCallFailed
from metacrm.webhooks.signing import new_secret
from webhook_receiver import receiver

SECRET = new_secret()


def trigger(params: dict[str, Any], name: str = "ping_on_deal") -> dict[str, Any]:
    return {"kind": "trigger", "name": name, "version": 1, "label": LABEL, "entity": "deal",
            "event": "created", "mode": "async",
            "actions": [{"type": "call_webhook", "params": params}]}


def test_a_trigger_calls_the_url_with_a_signed_body(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with receiver(secrets=[SECRET]) as rx:
        documents = (*DOCUMENTS, trigger({"url": rx.url("/ping"), "secret": SECRET}))
        with webhook_world(isolated_database_url, tmp_path, documents=documents) as world:
            deal = world.create_deal(world.boss, title="Big one")

            (call,) = rx.received("/ping")
            with world.engine.connect() as conn:
                (event,) = outbox.events_for(conn, "deal", deal["id"])
            assert call.verified_with == [SECRET]
            assert call.webhook_id == f"ping_on_deal:{event.id}"
            body = call.json
            assert body["type"] == "automation.call_webhook"
            assert body["data"]["trigger"] == "ping_on_deal"
            assert body["data"]["record"]["title"] == "Big one"
            assert body["data"]["event_id"] == event.id


def test_bad_params_are_metadata_errors_pointing_at_them(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with webhook_world(isolated_database_url, tmp_path, webhook_allow_private=False) as world:
        for params, expected in [
            ({"url": "http://127.0.0.1/hook"}, {"/actions/0/params/url"}),
            ({"url": "http://169.254.169.254/"}, {"/actions/0/params/url"}),
            ({"url": "ftp://93.184.216.34/"}, {"/actions/0/params/url"}),
            ({}, {"/actions/0/params/url"}),
            ({"url": "https://93.184.216.34/", "secret": "nope", "colour": 1},
             {"/actions/0/params/secret", "/actions/0/params/colour"}),
        ]:
            documents = [Document.from_body(body, source=f"{body['name']}.json", pack="t")
                         for body in (*DOCUMENTS, trigger(params))]
            with pytest.raises(MetadataInvalid) as failure:
                world.services.metadata.plan(documents)
            assert {e.pointer for e in failure.value.errors} == expected, failure.value

        fine = [Document.from_body(body, source=f"{body['name']}.json", pack="t") for body in
                (*DOCUMENTS, trigger({"url": "https://93.184.216.34/", "secret": SECRET}))]
        world.services.metadata.plan(fine)


def test_a_dry_run_contacts_nothing_and_a_failed_call_is_an_error(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with receiver() as rx, webhook_world(isolated_database_url, tmp_path) as world:
        action = world.services.automation.actions.get("call_webhook")
        model = world.services.metadata.live().model
        documents = [Document.from_body(body, source=f"{body['name']}.json", pack="t")
                     for body in (*DOCUMENTS, trigger({"url": rx.url()}))]
        world.services.metadata.apply(documents, author="test")
        definition = world.services.metadata.live().model.triggers["ping_on_deal"]
        now = datetime.now(UTC)
        event = EventRecord("evt-1", "record.created", "deal", "r1", {}, now)
        with world.engine.connect() as conn:
            context = ActionContext(conn=conn, services=world.services, subject=world.boss,
                                    trigger=definition, entity="deal",
                                    record={"id": "r1", "title": "T"}, event=event,
                                    now=now, dry_run=True)
            described = action.run(context, {"url": rx.url()})
            assert described["would_call"] == rx.url()
            assert described["body"]["data"]["record"] == {"id": "r1", "title": "T"}
            assert rx.deliveries == []

            rx.answer(502)
            live = ActionContext(conn=conn, services=world.services, subject=world.boss,
                                 trigger=definition, entity="deal",
                                 record={"id": "r1", "title": "T"}, event=event, now=now)
            with pytest.raises(WebhookCallFailed, match="502"):
                action.run(live, {"url": rx.url()})
            assert action.run(live, {"url": rx.url()})["status_code"] == 200
            calls = rx.received()
            assert [c.webhook_id for c in calls] == ["ping_on_deal:evt-1"] * 2
            assert "webhook-signature" not in calls[0].headers
        assert model.triggers == {}
