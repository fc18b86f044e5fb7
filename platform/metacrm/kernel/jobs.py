"""Ports of asynchronous work: work items, their consumers, and the job queue.

Everything that happens "later" — an async trigger's actions, a webhook delivery, a
time-based or cron trigger firing — is a *work item*: a row of the dispatch table
(`metacrm.storage.work_item_store`), written in a database transaction, and only then handed to the
job queue. The database, not Redis, is the record of what still has to be done: a queue that
is down, or a worker killed mid-job, delays an item but never loses it — a sweeper hands
items whose lease ran out to the queue again.

A consumer is named (`webhook`, `trigger`, extension packs add more); for each published
outbox event it names its targets (subscription ids, trigger names), one work item per
target; then it handles one item at a time. Handling is at-least-once: a consumer must be
idempotent by `WorkItem.event_id` (or `WorkItem.id`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A published domain event as consumers see it (an outbox row)."""

    id: str
    type: str
    entity: str
    record_id: str
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One unit of asynchronous work: `consumer` handles `event` for `target`.

    `attempt` counts from 1 (the attempt being made now); `id` is stable across attempts
    (webhooks use the event id as `webhook-id`, so every retry of a delivery carries the
    same one).
    """

    id: str
    consumer: str
    target: str
    event: EventRecord
    attempt: int
    first_attempt_at: datetime | None = None


class RetryLater(Exception):
    """This attempt failed but a later one may succeed. `delay` None: the consumer's
    `retry_delay` decides."""

    def __init__(self, reason: str, delay: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class GiveUp(Exception):
    """This item can never succeed (e.g. its subscription was deleted): stop retrying."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Consumer(Protocol):
    """Turns published events into work items and handles them (registered by name)."""

    @property
    def name(self) -> str: ...

    def targets(self, event: EventRecord) -> Sequence[str]:
        """The targets that get a work item for `event` (may be empty)."""
        ...

    def handle(self, item: WorkItem) -> None:
        """Do the work. Return = done; raise RetryLater or GiveUp; any other exception
        counts as RetryLater with its message."""
        ...

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        """How long to wait after failed attempt `item.attempt`; None = give up."""
        ...


class QueueUnavailable(Exception):
    """The queue cannot take items now (Redis down); they stay pending in the database."""


class JobQueue(Protocol):
    """Hands work item ids to whoever runs them: RQ workers, or this process (inline)."""

    def enqueue(self, item_ids: Sequence[str]) -> None:
        """Schedule the items to run; raise QueueUnavailable when the queue is down."""
        ...


@dataclass(frozen=True, slots=True)
class MailAttachment:
    """A file sent with an email (`name` as the recipient sees it)."""

    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class MailMessage:
    """A plain-text email (with an optional HTML alternative and attached files)."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[MailAttachment, ...] = ()


class MailChannel(Protocol):
    """Sends an email (the SMTP adapter in production; tests use a real SMTP server on
    loopback). Raises an exception when the message was not accepted."""

    def send(self, message: MailMessage) -> None: ...


class ConsumerRegistry:
    """The consumers of one process, by name; core features and extension packs register
    theirs the same way (`install(services)`)."""

    def __init__(self) -> None:
        self._consumers: dict[str, Consumer] = {}

    def register(self, consumer: Consumer) -> None:
        if consumer.name in self._consumers:
            raise ValueError(f"a consumer named {consumer.name!r} is already registered")
        # copy on write: packs (un)register while other threads iterate the consumers
        self._consumers = {**self._consumers, consumer.name: consumer}

    def unregister(self, name: str) -> None:
        """Remove consumer `name` (an extension pack was unloaded); its pending work items
        stay in the dispatch table and run if a consumer of that name comes back."""
        self._consumers = {key: c for key, c in self._consumers.items() if key != name}

    def get(self, name: str) -> Consumer | None:
        return self._consumers.get(name)

    def __iter__(self) -> Iterator[Consumer]:
        return iter(list(self._consumers.values()))

    def names(self) -> tuple[str, ...]:
        return tuple(self._consumers)
