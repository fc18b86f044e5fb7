"""Retries: the configured first wait, then doubling ceilings with full jitter, at most 6 h
apart, for at least 72 h after the first attempt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from webhook_harness import WebhookWorld, webhook_world

from metacrm.kernel.jobs import Consumer, EventRecord, WorkItem
from metacrm.webhooks.consumer import MAX_DELAY, RETRY_FOR

FIRST = 10.0


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[WebhookWorld]:
    with webhook_world(isolated_database_url, tmp_path,
                       webhook_retry_first_seconds=FIRST) as world:
        yield world


def item(attempt: int, first_attempt_at: datetime) -> WorkItem:
    event = EventRecord("evt", "record.created", "deal", "rec", {}, first_attempt_at)
    return WorkItem("item", "webhook", "hook", event, attempt, first_attempt_at)


def consumer(world: WebhookWorld) -> Consumer:
    found = world.services.consumers.get("webhook")
    assert found is not None
    return found


def test_the_first_retry_waits_the_configured_time(world: WebhookWorld) -> None:
    delay = consumer(world).retry_delay(item(1, world.clock()))
    assert delay == timedelta(seconds=FIRST)


def test_later_waits_are_jittered_under_a_doubling_ceiling_capped_at_six_hours(
    world: WebhookWorld,
) -> None:
    webhook = consumer(world)
    for attempt in range(2, 30):
        ceiling = min(MAX_DELAY, timedelta(seconds=FIRST * 2 ** (attempt - 1)))
        waits = {webhook.retry_delay(item(attempt, world.clock())) for _ in range(50)}
        assert all(w is not None and timedelta(seconds=FIRST) <= w <= ceiling for w in waits)
        assert len(waits) > 1, "the wait is drawn at random (full jitter)"
    assert max(w for w in (webhook.retry_delay(item(25, world.clock())) for _ in range(200))
               if w is not None) > timedelta(hours=3)


def test_retries_go_on_for_72_hours_after_the_first_attempt(world: WebhookWorld) -> None:
    webhook = consumer(world)
    started = world.clock()
    world.clock.advance(RETRY_FOR - timedelta(minutes=1))
    assert webhook.retry_delay(item(20, started)) is not None
    world.clock.advance(timedelta(minutes=1))
    assert webhook.retry_delay(item(21, started)) is None
