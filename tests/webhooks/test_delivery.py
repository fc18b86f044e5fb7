"""Record events reach webhook receivers signed, schema-valid, retried and logged.

Work items run inline (right after each commit, in the test process); retries run when the
test moves the Services clock and sweeps (`world.tick()`), as the scheduler would. Every
request goes to a real HTTP server on loopback that verifies it with `standardwebhooks`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from webhook_harness import WebhookWorld, webhook_world

from metacrm.kernel.ids import new_id
from metacrm.storage import outbox
from metacrm.webhooks import subscriptions
from metacrm.webhooks.signing import new_secret
from webhook_receiver import Receiver, receiver


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[WebhookWorld]:
    with webhook_world(isolated_database_url, tmp_path) as world:
        yield world


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiver() as server:
        yield server


def events_of(world: WebhookWorld, record_id: str) -> list[outbox.OutboxEvent]:
    with world.engine.connect() as conn:
        return outbox.events_for(conn, "deal", record_id)


def test_each_change_arrives_signed_with_its_event_id_and_schema_valid(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url())
    rx.secrets = [hook["secret"]]

    deal = world.create_deal(world.boss, amount="12.50", region="eu")
    world.services.records.update(world.boss, "deal", deal["id"], {"amount": "20"})
    world.services.records.delete(world.boss, "deal", deal["id"])

    got = rx.received()
    assert [d.json["type"] for d in got] == ["record.created", "record.updated",
                                             "record.deleted"]
    assert [d.webhook_id for d in got] == [e.id for e in events_of(world, deal["id"])]
    for delivery in got:
        assert delivery.verified_with == [hook["secret"]]
        assert delivery.schema_errors == []
        assert delivery.json["data"]["id"] == deal["id"]
    update = got[1].json["data"]
    assert update["changed"] == ["amount"]
    assert update["previous"] == {"amount": "12.50"}
    assert update["record"]["amount"] == "20.00"


def test_event_types_entity_and_filter_choose_what_a_subscription_hears(
    world: WebhookWorld, rx: Receiver
) -> None:
    world.subscribe(world.boss, rx.url("/deleted"), events=["record.deleted"])
    world.subscribe(world.boss, rx.url("/big"), entity="deal",
                    filter={"field": "amount", "op": "gt", "value": "100"})

    small = world.create_deal(world.boss, amount="5")
    big = world.create_deal(world.boss, amount="500")
    world.services.records.delete(world.boss, "deal", small["id"])

    assert [(d.json["type"], d.json["data"]["id"]) for d in rx.received("/deleted")] == [
        ("record.deleted", small["id"])]
    assert [(d.json["type"], d.json["data"]["id"]) for d in rx.received("/big")] == [
        ("record.created", big["id"])]


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url())
    rx.secrets = [hook["secret"]]
    rx.answer(500, 500, 500)

    deal = world.create_deal(world.boss)
    for _retry in range(3):
        world.clock.advance(timedelta(hours=1))
        world.tick()

    got = rx.received()
    assert [d.status for d in got] == [500, 500, 500, 200]
    assert len({d.webhook_id for d in got}) == 1, "every retry carries the same webhook-id"
    assert len({d.body for d in got}) == 1, "every retry carries the same body"
    assert all(d.verified_with == [hook["secret"]] for d in got)
    event_id = got[0].webhook_id
    log = world.attempts(hook["id"], event_id)
    assert [(a.attempt, a.status_code, a.error) for a in log] == [
        (1, 500, None), (2, 500, None), (3, 500, None), (4, 200, None)]
    assert all(a.latency_ms >= 0 for a in log)
    assert all(len(a.response_excerpt.encode()) <= 1024 for a in log if a.response_excerpt)
    assert log[0].response_excerpt.startswith("receiver says no")
    (item,) = world.items(hook["id"])
    assert (item.status, item.attempts, item.event.record_id) == ("done", 4, deal["id"])
    assert world.webhooks.get(world.boss, hook["id"])["failing_since"] is None


def test_a_rotated_secret_keeps_verifying_for_24_hours_then_only_the_new_one_does(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url())
    old = hook["secret"]
    new = world.webhooks.rotate_secret(world.boss, hook["id"])["secret"]
    rx.secrets = [old, new]

    world.create_deal(world.boss, title="during the grace period")
    world.clock.advance(timedelta(hours=23, minutes=59))
    world.create_deal(world.boss, title="just before it ends")
    world.clock.advance(timedelta(minutes=2))
    world.create_deal(world.boss, title="after it")

    got = rx.received()
    assert [d.verified_with for d in got] == [[old, new], [old, new], [new]]
    assert [len(d.headers["webhook-signature"].split(" ")) for d in got] == [2, 2, 1]


def test_the_owner_field_security_and_row_scope_decide_what_is_delivered(
    world: WebhookWorld, rx: Receiver
) -> None:
    ann = world.user("ann", "rep")
    bob = world.user("bob", "rep")
    eve = world.user("eve", "eu_viewer")
    world.subscribe(ann, rx.url("/ann"))
    world.subscribe(bob, rx.url("/bob"))
    world.subscribe(eve, rx.url("/eve"))

    deal = world.create_deal(world.boss, owner=ann.user_id, amount="10", margin="4",
                             region="us")
    world.services.records.update(world.boss, "deal", deal["id"], {"margin": "5"})
    world.services.records.update(world.boss, "deal", deal["id"],
                                  {"margin": "6", "region": "eu"})

    to_ann = rx.received("/ann")
    # The margin-only change is not announced to ann, who cannot see margin (issue 11: it
    # arrived as `changed: []` with a new version, telling her a hidden field changed).
    assert [d.json["type"] for d in to_ann] == ["record.created", "record.updated"]
    for delivery in to_ann:
        assert delivery.schema_errors == []
        assert "margin" not in delivery.json["data"]["record"]
        assert "margin" not in delivery.json["data"].get("previous", {})
        assert "margin" not in delivery.json["data"].get("changed", [])
    assert to_ann[1].json["data"]["changed"] == ["region"]
    assert to_ann[1].json["data"]["previous"] == {"region": "us"}
    assert rx.received("/bob") == [], "bob may not read ann's deal"
    to_eve = rx.received("/eve")
    assert [d.json["data"]["record"]["region"] for d in to_eve] == ["eu"], (
        "eve reads eu deals only: the deal was us until the last change")
    assert to_eve[0].json["data"]["record"]["margin"] == "6.00"


def test_deleting_a_subscription_stops_its_pending_retries(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url())
    rx.answer(503)
    world.create_deal(world.boss)
    world.webhooks.delete(world.boss, hook["id"])

    world.clock.advance(timedelta(hours=1))
    world.tick()

    assert [d.status for d in rx.received()] == [503]
    (item,) = world.items(hook["id"])
    assert item.status == "failed"
    assert "deleted" in (item.last_error or "")


def test_a_disabled_subscription_hears_nothing_and_enabling_it_resumes(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url(), enabled=False)
    world.create_deal(world.boss, title="unheard")
    world.webhooks.update(world.boss, hook["id"], {"enabled": True})
    world.create_deal(world.boss, title="heard")

    assert [d.json["data"]["record"]["title"] for d in rx.received()] == ["heard"]


def test_a_manual_redelivery_sends_the_same_event_again(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url())
    world.create_deal(world.boss)
    (first,) = rx.received()

    answer = world.webhooks.redeliver(world.boss, hook["id"], first.webhook_id)

    assert answer["status"] == "pending"
    second = rx.received()[1]
    assert (second.webhook_id, second.body) == (first.webhook_id, first.body)
    log = world.attempts(hook["id"], first.webhook_id)
    assert [(a.attempt, a.status_code) for a in log] == [(1, 200), (2, 200)]


def test_old_delivery_attempts_are_deleted_after_30_days(
    world: WebhookWorld, rx: Receiver
) -> None:
    hook = world.subscribe(world.boss, rx.url())
    world.create_deal(world.boss, title="old")
    world.clock.advance(timedelta(days=20))
    world.create_deal(world.boss, title="recent")
    retention = world.services.periodic["webhooks.retention"]

    retention(world.clock() + timedelta(days=11))

    kept = world.webhooks.deliveries(world.boss, hook["id"]).data
    assert [a["event_id"] for a in kept] == [rx.received()[1].webhook_id]


def test_a_target_that_now_resolves_to_a_private_address_is_refused_at_delivery(
    isolated_database_url: str, tmp_path: Path, rx: Receiver
) -> None:
    """The address is checked again before every delivery: a subscription saved while its
    host was public (stored here as it would have been) is not called once the host
    resolves to loopback."""
    with webhook_world(isolated_database_url, tmp_path, webhook_allow_private=False) as world:
        now = world.clock()
        with world.engine.begin() as conn:
            subscriptions.insert(conn, {
                "id": new_id(), "owner": world.boss.user_id, "url": rx.url(),
                "events": ["*"], "entity": None, "filter": None, "secret": new_secret(),
                "previous_secret": None, "previous_secret_expires_at": None,
                "enabled": True, "disabled_reason": None, "failing_since": None,
                "created_at": now, "updated_at": now, "version": 1,
            })
        deal = world.create_deal(world.boss)

        assert rx.deliveries == []
        (event,) = events_of(world, deal["id"])
        with world.engine.connect() as conn:
            (hook,) = subscriptions.enabled(conn)
        (attempt,) = world.attempts(hook.id, event.id)
        assert attempt.status_code is None
        assert attempt.error is not None and "loopback" in attempt.error
        (item,) = world.items(hook.id)
        assert item.status == "pending", "refused attempts are retried (DNS may change)"


def test_a_transition_is_delivered_with_its_pipeline_step_unless_the_state_is_hidden(
    world: WebhookWorld, rx: Receiver
) -> None:
    blind = world.user("bea", "stage_blind")
    world.subscribe(world.boss, rx.url("/boss"), events=["record.transitioned"])
    world.subscribe(blind, rx.url("/blind"), events=["record.transitioned"])
    deal = world.create_deal(world.boss, amount="7")

    world.services.transitions.transition(world.boss, "deal", deal["id"], "win",
                                                      {"amount": "8"})

    (to_boss,) = rx.received("/boss")
    (to_blind,) = rx.received("/blind")
    assert to_boss.schema_errors == [] and to_blind.schema_errors == []
    data = to_boss.json["data"]
    assert data["transition"] == {"pipeline": "deal_flow", "name": "win", "from": "open",
                                  "to": "won"}
    assert sorted(data["changed"]) == ["amount", "stage"]
    assert data["previous"] == {"amount": "7.00", "stage": "open"}
    hidden = to_blind.json["data"]
    assert "transition" not in hidden and "stage" not in hidden["record"]
    assert hidden["changed"] == ["amount"] and hidden["previous"] == {"amount": "7.00"}
