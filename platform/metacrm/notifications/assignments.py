"""The `notifications` consumer: tell a user when a record is assigned to them.

For every record event that gives a record a new owner — created with an owner, or changed
so that `owner` is someone else now — the new owner gets one work item, unless they made
the change themselves. Handling adds the notification, idempotently per event (a retried
item adds nothing). It runs after the change committed (through the outbox), so a change
that rolls back notifies nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from metacrm.kernel.jobs import EventRecord, WorkItem
from metacrm.notifications import store
from metacrm.storage.outbox import RECORD_CREATED, RECORD_TRANSITIONED, RECORD_UPDATED

CONSUMER_NAME = "notifications"
OWNER = "owner"
RETRY_DELAYS = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=10))


def new_owner(event: EventRecord) -> str | None:
    """Whom the event assigned its record to (None: nobody new, or they did it themself)."""
    payload = event.payload
    record = payload.get("record")
    if not isinstance(record, dict):
        return None
    owner = record.get(OWNER)
    if not isinstance(owner, str) or owner == payload.get("actor"):
        return None
    if event.type == RECORD_CREATED:
        return owner
    if event.type in (RECORD_UPDATED, RECORD_TRANSITIONED) and \
            OWNER in (payload.get("changed") or ()):
        return owner
    return None


class AssignmentNotifications:
    """Registered as the `notifications` consumer."""

    name = CONSUMER_NAME

    def __init__(self, engine: sa.Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def targets(self, event: EventRecord) -> Sequence[str]:
        owner = new_owner(event)
        return (owner,) if owner is not None else ()

    def handle(self, item: WorkItem) -> None:
        event = item.event
        actor = event.payload.get("actor")
        with self.engine.begin() as conn:
            store.add(conn, user_id=item.target, kind=store.ASSIGNED,
                      source=f"event:{event.id}", at=event.created_at or self.clock(),
                      entity=event.entity, record_id=event.record_id,
                      actor=actor if isinstance(actor, str) else None)

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return RETRY_DELAYS[index] if index < len(RETRY_DELAYS) else None
