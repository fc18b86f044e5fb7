"""A `*` subscription hears every documented record event type (merges included), and
not event types whose payloads webhooks do not describe."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from metacrm.webhooks.subscriptions import EVENT_TYPES, Subscription

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def subscription(*events: str, entity: str | None = None) -> Subscription:
    return Subscription(
        id="s1", owner="u1", url="https://hooks.example/x", events=events, entity=entity,
        filter=None, secret="whsec_x", previous_secret=None, previous_secret_expires_at=None,
        enabled=True, disabled_reason=None, failing_since=None, created_at=NOW,
        updated_at=NOW, version=1, payload_version=1)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_star_hears_every_documented_type(event_type: str) -> None:
    assert subscription("*").listens_to(event_type, "deal")


def test_star_hears_merges_not_undescribed_types_and_entity_filters_still_apply() -> None:
    assert subscription("*").listens_to("record.merged", "deal")
    assert not subscription("*").listens_to("record.archived", "deal")
    assert subscription("record.created", entity="deal").listens_to("record.created", "deal")
    assert not subscription("*", entity="lead").listens_to("record.created", "deal")
