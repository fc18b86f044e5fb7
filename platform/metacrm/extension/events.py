"""Subscribers: pack code told of record events AFTER they committed.

A subscription becomes a consumer of the core's outbox (`ctx.subscribe`): each matching
event is a work item, run by a worker (or inline without Redis) with the core's leases and
retries; a handler raising an exception is retried later, so it must be idempotent by
`Event.id`. Two packs subscribing to the same events both get each one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """A committed record event (`record.created`, `record.updated`, `record.deleted`,
    `record.transitioned`)."""

    id: str
    type: str
    entity: str
    record_id: str
    occurred_at: datetime
    record: Mapping[str, Any]
    """The record in JSON form after the change (before it, for a deletion)."""
    changed: tuple[str, ...] = ()
    previous: Mapping[str, Any] | None = None
    attempt: int = 1


EventHandler = Callable[[Event], None]

RECORD_EVENTS = ("record.created", "record.updated", "record.deleted", "record.transitioned")

__all__ = ["RECORD_EVENTS", "Event", "EventHandler"]
