"""A subscription that fails for three days is disabled and its owner is told by email.

The mail goes through the app's real SMTP channel to an aiosmtpd server on loopback; time
is moved with the Services clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from webhook_harness import webhook_world

from metacrm.webhooks.consumer import DISABLE_AFTER
from smtp_harness import Inbox, smtp_server
from webhook_receiver import receiver


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as server:
        yield server


def test_three_days_of_failures_disable_the_subscription_and_email_its_owner(
    isolated_database_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    with webhook_world(isolated_database_url, tmp_path,
                       smtp_url=f"smtp://127.0.0.1:{inbox.port}",
                       mail_from="crm@example.com") as world, receiver() as rx:
        ann = world.user("ann", "rep", email="ann@example.com")
        hook = world.subscribe(ann, rx.url())
        rx.answer(*[500] * 50)

        world.create_deal(world.boss, owner=ann.user_id, title="first")
        world.clock.advance(timedelta(days=1))
        world.tick()
        failing = world.webhooks.get(ann, hook["id"])
        assert failing["enabled"] and failing["failing_since"] is not None
        assert inbox.messages == []

        world.clock.advance(DISABLE_AFTER - timedelta(days=1))
        world.tick()

        disabled = world.webhooks.get(ann, hook["id"])
        assert disabled["enabled"] is False
        assert "failed since" in disabled["disabled_reason"]
        (item,) = world.items(hook["id"])
        assert (item.status, item.attempts) == ("failed", 3)
        (mail,) = inbox.messages
        assert mail.recipients == ["ann@example.com"]
        assert mail.message["Subject"] == "metacrm: your webhook was disabled"
        text = mail.part("text/plain")
        assert hook["id"] in text and rx.url() in text

        world.create_deal(world.boss, owner=ann.user_id, title="after disabling")
        assert len(rx.received()) == 3, "a disabled subscription gets no new deliveries"

        world.webhooks.update(ann, hook["id"], {"enabled": True})
        rx.answer()
        world.create_deal(world.boss, owner=ann.user_id, title="enabled again")
        assert rx.received()[-1].json["data"]["record"]["title"] == "enabled again"
        assert world.webhooks.get(ann, hook["id"])["failing_since"] is None


def test_a_success_in_between_resets_the_three_days(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with webhook_world(isolated_database_url, tmp_path) as world, receiver() as rx:
        hook = world.subscribe(world.boss, rx.url())
        rx.answer(500)
        world.create_deal(world.boss, title="fails once")
        world.clock.advance(timedelta(days=2))
        world.create_deal(world.boss, title="succeeds")
        assert world.webhooks.get(world.boss, hook["id"])["failing_since"] is None

        rx.answer(500, 500)
        world.create_deal(world.boss, title="fails again")
        world.clock.advance(timedelta(days=2))
        world.tick()

        assert world.webhooks.get(world.boss, hook["id"])["enabled"] is True
