"""Webhook subscriptions as rows of `metacrm_webhooks` (SQLAlchemy Core, no Flask).

A subscription: its owner (the user whose read rights limit what it hears), the URL, the
event types (`record.created`, `record.updated`, `record.deleted`, `record.transitioned`
or `*`), an optional entity and filter, the signing secret — and, for 24 h after a
rotation, the previous secret — whether it is enabled (and why not), since when its
deliveries fail, the payload format version it receives (`metacrm.webhooks.formats`) and a
version for optimistic locking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.storage.system_tables import webhook_attempts, webhooks

EVENT_TYPES = ("record.created", "record.updated", "record.deleted", "record.transitioned",
               "record.merged")
ALL_EVENTS = "*"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    owner: str
    url: str
    events: tuple[str, ...]
    entity: str | None
    filter: Any
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    payload_version: int

    def listens_to(self, event_type: str, entity: str) -> bool:
        """Whether events of this type on this entity concern the subscription. `*` means
        every type of `EVENT_TYPES` (the documented payloads): an event type webhooks do not
        describe is not delivered."""
        listed = (ALL_EVENTS in self.events and event_type in EVENT_TYPES) or \
            event_type in self.events
        return listed and (self.entity is None or self.entity == entity)

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets to sign with at `now`: the current one, and the previous one while
        its 24 h of grace last."""
        if (self.previous_secret is not None and self.previous_secret_expires_at is not None
                and now < self.previous_secret_expires_at):
            return (self.secret, self.previous_secret)
        return (self.secret,)


def _subscription(row: sa.RowMapping) -> Subscription:
    return Subscription(
        id=row["id"], owner=row["owner"], url=row["url"], events=tuple(row["events"]),
        entity=row["entity"], filter=row["filter"], secret=row["secret"],
        previous_secret=row["previous_secret"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
        enabled=bool(row["enabled"]), disabled_reason=row["disabled_reason"],
        failing_since=row["failing_since"], created_at=row["created_at"],
        updated_at=row["updated_at"], version=int(row["version"]),
        payload_version=int(row["payload_version"]),
    )


def insert(connection: sa.Connection, values: Mapping[str, Any]) -> Subscription:
    connection.execute(webhooks.insert().values(**values))
    found = get(connection, str(values["id"]))
    assert found is not None
    return found


def get(connection: sa.Connection, webhook_id: str) -> Subscription | None:
    row = connection.execute(
        sa.select(webhooks).where(webhooks.c.id == webhook_id)).mappings().first()
    return None if row is None else _subscription(row)


def page(
    connection: sa.Connection, *, owner: str | None, limit: int, after_id: str | None
) -> list[Subscription]:
    """Subscriptions in id (creation) order — of one owner, or all (owner None)."""
    query = sa.select(webhooks)
    if owner is not None:
        query = query.where(webhooks.c.owner == owner)
    if after_id is not None:
        query = query.where(webhooks.c.id > after_id)
    rows = connection.execute(query.order_by(webhooks.c.id).limit(limit)).mappings()
    return [_subscription(row) for row in rows]


def enabled(connection: sa.Connection) -> list[Subscription]:
    """Every enabled subscription (the consumer caches them briefly)."""
    rows = connection.execute(
        sa.select(webhooks).where(webhooks.c.enabled.is_(True)).order_by(webhooks.c.id)
    ).mappings()
    return [_subscription(row) for row in rows]


def update(
    connection: sa.Connection, webhook_id: str, values: Mapping[str, Any], *,
    expected_version: int | None = None,
) -> bool:
    """Change columns and bump the version; False when there is no such subscription (or it
    is not at `expected_version`)."""
    condition = webhooks.c.id == webhook_id
    if expected_version is not None:
        condition = sa.and_(condition, webhooks.c.version == expected_version)
    result = connection.execute(
        sa.update(webhooks).where(condition)
        .values(**values, version=webhooks.c.version + 1)
    )
    return bool(result.rowcount)


def delete(connection: sa.Connection, webhook_id: str) -> bool:
    """Remove a subscription and its delivery log."""
    connection.execute(sa.delete(webhook_attempts).where(
        webhook_attempts.c.webhook_id == webhook_id))
    result = connection.execute(sa.delete(webhooks).where(webhooks.c.id == webhook_id))
    return bool(result.rowcount)


def mark_failing(connection: sa.Connection, webhook_id: str, since: datetime) -> datetime:
    """Note that deliveries fail (from `since`, unless already failing); returns since when
    they have been failing."""
    connection.execute(
        sa.update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.failing_since.is_(None))
        .values(failing_since=since)
    )
    found = connection.execute(
        sa.select(webhooks.c.failing_since).where(webhooks.c.id == webhook_id)).scalar()
    return found if found is not None else since


def mark_delivered(connection: sa.Connection, webhook_id: str) -> None:
    """A delivery succeeded: the subscription is no longer failing."""
    connection.execute(
        sa.update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.failing_since.is_not(None))
        .values(failing_since=None)
    )


def disable(
    connection: sa.Connection, webhook_id: str, reason: str, now: datetime
) -> bool:
    """Disable an enabled subscription; False when it was not enabled (someone else did)."""
    result = connection.execute(
        sa.update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=now,
                version=webhooks.c.version + 1)
    )
    return bool(result.rowcount)
