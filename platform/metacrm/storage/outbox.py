"""The outbox: domain events stored as rows, in the same transaction as the change.

"Events are facts before they are messages": a record change and its event commit or roll
back together, so a consumer never hears of a change that did not happen nor misses one that
did. A relay (the automation and webhooks issue) reads the pending rows in id order
(`pending`), hands them to the job queue and marks them published (`mark_published`);
consumers deduplicate on the event id.

Payload (format version 1), the contract with webhooks and automation:
`{"version": 1, "entity": ..., "id": <record id>, "record": <the full record, JSON form>,
"changed": [<field>, ...] (record.updated/transitioned only), "actor": <user id or null>,
"occurred_at": <RFC 3339 UTC>}`. `record` is the whole record as stored — field security
is applied by each consumer for its audience, not here.

`record.updated` and `record.transitioned` also carry `"previous": {<changed field>: <its
value before, JSON form>}` (so a consumer can rebuild the record before the change);
`record.transitioned` (a pipeline transition, with the field values set in the same step)
carries `changed` and `previous` like record.updated plus `"transition": {"pipeline",
"name", "from", "to"}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.ids import new_id
from metacrm.storage import trailing_writes
from metacrm.storage.system_tables import outbox

PAYLOAD_VERSION = 1
RECORD_CREATED = "record.created"
RECORD_UPDATED = "record.updated"
RECORD_DELETED = "record.deleted"
RECORD_TRANSITIONED = "record.transitioned"
RECORD_MERGED = "record.merged"
EVENT_TYPES = (RECORD_CREATED, RECORD_UPDATED, RECORD_DELETED, RECORD_TRANSITIONED,
               RECORD_MERGED)
CHANGE_EVENTS = (RECORD_UPDATED, RECORD_TRANSITIONED)
"""The event types that describe a change of an existing record (`changed`, `previous`)."""


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event row; `id` (UUIDv7) orders events and is the consumers' idempotency key."""

    type: str
    entity: str
    record_id: str
    payload: Mapping[str, Any]
    created_at: datetime
    published_at: datetime | None = None
    id: str = field(default_factory=new_id)


def record_event(
    event_type: str,
    entity: str,
    record: Mapping[str, Any],
    *,
    actor: str | None,
    occurred_at: datetime,
    changed: Sequence[str] | None = None,
    previous: Mapping[str, Any] | None = None,
    transition: Mapping[str, Any] | None = None,
) -> OutboxEvent:
    """A `record.*` event for `record` (JSON form, with its `id`); `changed` and `previous`
    are kept for the change events, `transition` for record.transitioned."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    record_id = str(record["id"])
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "entity": entity,
        "id": record_id,
        "record": dict(record),
        "actor": actor,
        "occurred_at": datetime_to_json(occurred_at),
    }
    if event_type in CHANGE_EVENTS:
        payload["changed"] = list(changed or ())
        payload["previous"] = dict(previous or {})
    if event_type == RECORD_TRANSITIONED:
        payload["transition"] = dict(transition or {})
    return OutboxEvent(event_type, entity, record_id, payload, occurred_at)


def initialize_outbox(connection: sa.Connection) -> None:
    """Create `metacrm_outbox` when it does not exist (idempotent)."""
    outbox.create(connection, checkfirst=True)


_COLLECTED = "metacrm.outbox.collected"
_RELAYED = "metacrm.outbox.relayed_before_commit"


@contextmanager
def collect_events(connection: sa.Connection) -> Iterator[list[OutboxEvent]]:
    """Every event `append` stores on `connection` inside the block, in order (the unit of
    work hands them to its listeners)."""
    collected: list[OutboxEvent] = []
    outer = connection.info.get(_COLLECTED)
    connection.info[_COLLECTED] = collected
    try:
        yield collected
    finally:
        if outer is None:
            connection.info.pop(_COLLECTED, None)
        else:
            connection.info[_COLLECTED] = outer
            outer.extend(collected)


def collected(connection: sa.Connection) -> list[OutboxEvent]:
    """The live list `collect_events` is filling on `connection` (empty outside one)."""
    found = connection.info.get(_COLLECTED)
    return found if found is not None else []


@contextmanager
def relayed_before_commit(connection: sa.Connection) -> Iterator[None]:
    """Inside the block, every event appended on `connection` is relayed to work items in
    the same transaction, before its commit (the unit of work's relay listener promises
    it): `append` writes such events as published already, which saves marking them with
    an UPDATE afterwards (`published_on_write`)."""
    outer = connection.info.get(_RELAYED, False)
    connection.info[_RELAYED] = True
    try:
        yield
    finally:
        connection.info[_RELAYED] = outer


def published_on_write(connection: sa.Connection) -> bool:
    """Whether events appended on `connection` now are stored as published."""
    return bool(connection.info.get(_RELAYED, False))


def append(connection: sa.Connection, events: Sequence[OutboxEvent]) -> None:
    """Store events in the caller's transaction: one statement, or the unit of work's
    trailing writes (`metacrm.storage.trailing_writes`)."""
    if not events:
        return
    collected = connection.info.get(_COLLECTED)
    if collected is not None:
        collected.extend(events)
    published = published_on_write(connection)
    rows = [
        {
            "id": event.id,
            "type": event.type,
            "entity": event.entity,
            "record_id": event.record_id,
            "payload": dict(event.payload),
            "created_at": event.created_at,
            "published_at": event.published_at or (event.created_at if published else None),
        }
        for event in events
    ]
    if not trailing_writes.defer(connection, outbox, rows):
        connection.execute(outbox.insert(), rows)


def _event(row: sa.RowMapping) -> OutboxEvent:
    return OutboxEvent(
        id=row["id"],
        type=row["type"],
        entity=row["entity"],
        record_id=row["record_id"],
        payload=row["payload"],
        created_at=row["created_at"],
        published_at=row["published_at"],
    )


def pending(connection: sa.Connection, *, limit: int = 100) -> list[OutboxEvent]:
    """The oldest events not published yet, in the order they were written."""
    trailing_writes.flush(connection)
    rows = connection.execute(
        sa.select(outbox).where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id).limit(limit)
    ).mappings()
    return [_event(row) for row in rows]


def events_for(connection: sa.Connection, entity: str, record_id: str) -> list[OutboxEvent]:
    """Every event of one record, oldest first (diagnostics and tests)."""
    trailing_writes.flush(connection)
    rows = connection.execute(
        sa.select(outbox).where(outbox.c.entity == entity, outbox.c.record_id == record_id)
        .order_by(outbox.c.id)
    ).mappings()
    return [_event(row) for row in rows]


def mark_published(connection: sa.Connection, ids: Sequence[str], at: datetime) -> int:
    """Mark events as handed to the queue; returns how many were still pending."""
    if not ids:
        return 0
    trailing_writes.flush(connection)
    result = connection.execute(
        sa.update(outbox).where(outbox.c.id.in_(list(ids)), outbox.c.published_at.is_(None))
        .values(published_at=at)
    )
    return int(result.rowcount)
