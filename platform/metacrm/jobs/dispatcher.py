"""The dispatcher: outbox events -> work items -> the queue -> a consumer's `handle`.

* Relaying turns outbox events into work items (one per consumer target) and marks the
  events published. A write command's events are relayed inside the command's own
  transaction (`relay_in`, by the `RelayListener`): the change, its events and its work
  items commit together, and after the commit only the queue is told. Events written any
  other way are relayed by `relay_once` (the scheduler's tick), in a transaction of its own;
  on PostgreSQL relays lock the events they take (`SKIP LOCKED`), so several run side by
  side. The unique key (consumer, target, event) makes a repeated relay harmless.
* `submit` creates one item in the caller's transaction (time and cron triggers).
* `run_item` runs one attempt (see `metacrm.jobs.attempts`).
* `sweep_once` hands the queue what it may have lost: due items not queued lately, and items
  whose worker died (running with an expired lease).

Consumers' `targets` run while a relay holds its transaction (on SQLite the database's write
lock): they must be quick and must not write. The queue is only a messenger: an item it
drops (Redis down, a worker killed) is found by the sweeper and handed out again, so every
item runs at least once; consumers are idempotent by event id (see `metacrm.kernel.jobs`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from metacrm.jobs.attempts import AttemptRunner
from metacrm.kernel.clock import Clock
from metacrm.kernel.jobs import (
    Consumer,
    ConsumerRegistry,
    EventRecord,
    JobQueue,
    QueueUnavailable,
)
from metacrm.services.records.unit_of_work import write_transaction
from metacrm.storage import work_item_store
from metacrm.storage.outbox import OutboxEvent, mark_published, published_on_write

_log = logging.getLogger(__name__)

RELAY_BATCH = 500
"""Outbox events one relay transaction takes at most."""

SWEEP_BATCH = 1000
"""Items one sweep hands to the queue at most."""

FINISHED_RETENTION = timedelta(days=30)
"""Done and failed work items are kept this long (webhook delivery attempts: 30 days too)."""

QUEUE_REST_SECONDS = 5.0
"""After the queue refused items, relays leave new items to the sweeper for this long (the
sweeper keeps trying every tick and ends the rest when the queue is back)."""

MAX_DRAIN_ROUNDS = 100
"""`kick` repeats while work it started (inline) produced more; a bound, not a goal."""

MAX_STASHED = 10_000
"""Relayed-but-not-yet-committed batches remembered at most (a rolled-back command leaves
its batch behind; the stash is emptied when full — the sweeper covers what it forgets)."""



@runtime_checkable
class ReportsBacklog(Protocol):
    """A queue that can tell how many messages wait in it (RQ can; inline holds none)."""

    def backlog(self) -> int:
        """Messages waiting; raises QueueUnavailable when the queue cannot be reached."""
        ...


def event_record(event: OutboxEvent) -> EventRecord:
    """An outbox event as consumers see it."""
    return EventRecord(id=event.id, type=event.type, entity=event.entity,
                       record_id=event.record_id, payload=event.payload,
                       created_at=event.created_at)


class Dispatcher:
    """Relays events, runs work items and keeps the queue supplied (one per process)."""

    def __init__(
        self, engine: sa.Engine, consumers: ConsumerRegistry, *, clock: Clock,
        lease: timedelta, queue: JobQueue | None = None,
    ) -> None:
        """`queue` None: the inline queue (items run in this process right away)."""
        from metacrm.jobs.inline_queue import InlineQueue

        self.engine = engine
        self.consumers = consumers
        self.clock = clock
        self.lease = lease
        self.queue: JobQueue = queue if queue is not None else InlineQueue(self.run_item)
        self._attempts = AttemptRunner(engine, consumers, clock=lambda: self.clock(),
                                       lease=lease)
        self._queue_up = True
        self._queue_rests_until = 0.0
        self._local = threading.local()
        self._submitted = threading.Event()
        self._stash: dict[str, list[str]] = {}
        self._stash_lock = threading.Lock()

    # --- creating work items ----------------------------------------------------------------

    def relay_in(self, conn: sa.Connection, events: Sequence[OutboxEvent]) -> None:
        """Relay `events` in the transaction that wrote them (before its commit); the new
        items go to the queue when `after_commit` hears of the same events."""
        if not events:
            return
        hand_over = not self._queue_resting()
        created = self._relay(conn, events, self.clock(), queued=hand_over,
                              mark=not published_on_write(conn))
        if hand_over and created:
            with self._stash_lock:
                if len(self._stash) >= MAX_STASHED:
                    self._stash.clear()
                self._stash[events[0].id] = created

    def after_commit(self, events: Iterable[OutboxEvent]) -> None:
        """The events relayed by `relay_in` are committed: hand their items to the queue."""
        with self._stash_lock:
            created = [item for event in events for item in self._stash.pop(event.id, ())]
        self._state().handover.extend(created)
        self._drain(relay=False)

    def relay_once(self, limit: int = RELAY_BATCH, *, look_first: bool = True) -> int:
        """Publish up to `limit` pending outbox events as work items in a transaction of
        their own; returns how many events were published (0: none was pending, or other
        relays hold them). `look_first`: check with a plain read before taking locks."""
        if look_first:
            with self.engine.connect() as conn:
                if not work_item_store.has_pending_events(conn):
                    return 0
        hand_over = not self._queue_resting()
        with write_transaction(self.engine) as conn:
            events = work_item_store.take_pending_events(conn, limit)
            created = self._relay(conn, events, self.clock(), queued=hand_over)
        if hand_over:
            self._hand_over(created)
        return len(events)

    def relay_all(self) -> int:
        """`relay_once` until no pending event is left; returns how many were published."""
        total, look_first = 0, True
        while True:
            published = self.relay_once(RELAY_BATCH, look_first=look_first)
            total += published
            if published < RELAY_BATCH:
                return total
            look_first = False

    def submit(
        self, conn: sa.Connection, consumer: str, target: str, event: EventRecord
    ) -> str | None:
        """Create the work item (consumer, target, event) in the caller's transaction;
        None when it exists already. It is handed to the queue by the next `kick()` in this
        process or the next sweep (the scheduler's tick) — call `kick()` after the commit
        to run it sooner."""
        if self.consumers.get(consumer) is None:
            raise ValueError(f"no consumer named {consumer!r}; registered: "
                             f"{', '.join(self.consumers.names()) or 'none'}")
        created = work_item_store.insert_items(
            conn, [work_item_store.NewWorkItem(consumer, target, event)], self.clock())
        if created:
            self._submitted.set()
        return created[0] if created else None

    def kick(self) -> None:
        """Relay pending events and hand the items submitted in this process to the queue.
        Inline work started here that commits more is handed over by this same call, in a
        loop rather than recursively."""
        self._drain(relay=True)

    def _relay(
        self, conn: sa.Connection, events: Sequence[OutboxEvent], now: datetime, *,
        queued: bool, mark: bool = True,
    ) -> list[str]:
        """Work items for `events`; `mark`: mark the events published (False: they were
        written as published, `outbox.relayed_before_commit`)."""
        items = [
            work_item_store.NewWorkItem(consumer.name, target, record)
            for record in map(event_record, events)
            for consumer in self.consumers
            for target in self._targets(consumer, record)
        ]
        created = work_item_store.insert_items(conn, items, now, queued=queued)
        if mark:
            mark_published(conn, [event.id for event in events], now)
        return created

    def _targets(self, consumer: Consumer, event: EventRecord) -> Sequence[str]:
        try:
            return tuple(consumer.targets(event))
        except Exception:  # one consumer's bug must not stop every other consumer's events
            _log.exception("consumer %r failed to name the targets of event %s (%s); it "
                           "gets no work item for it", consumer.name, event.id, event.type)
            return ()

    # --- handing items to the queue ---------------------------------------------------------

    def _state(self) -> threading.local:
        state = self._local
        if not hasattr(state, "handover"):
            state.handover, state.draining, state.again, state.relay = [], False, False, False
        return state

    def _drain(self, *, relay: bool) -> None:
        state = self._state()
        state.relay = state.relay or relay
        if state.draining:  # called from inline work this thread is running: loop, not nest
            state.again = True
            return
        state.draining = True
        try:
            for _round in range(MAX_DRAIN_ROUNDS):
                state.again = False
                if state.relay:
                    state.relay = False
                    self.relay_all()
                while state.handover:
                    batch, state.handover = state.handover, []
                    self._hand_over(batch)
                if self._submitted.is_set():
                    self._submitted.clear()
                    self._enqueue_due(fresh_only=True)
                if not (state.again or state.handover or state.relay):
                    return
        finally:
            state.draining = False

    def sweep_once(self, now: datetime | None = None, *, limit: int = SWEEP_BATCH) -> int:
        """Hand the queue due items it does not hold (never queued, or queued more than a
        lease ago) and items whose lease expired (their worker died); returns how many."""
        return self._enqueue_due(now or self.clock(), limit=limit)

    def retry_now(self, item_id: str) -> bool:
        """Run a done, failed or pending item again now (manual redelivery); False when
        there is no such item or an attempt is running."""
        now = self.clock()
        with write_transaction(self.engine) as conn:
            retried = work_item_store.retry_now(conn, item_id, now)
            if retried:
                work_item_store.mark_queued(conn, [item_id], now)
        if retried:
            self._hand_over([item_id])
        return retried

    def forget_finished(self, now: datetime) -> None:
        """Delete items finished more than `FINISHED_RETENTION` ago, a batch per call (the
        periodic task `jobs.retention`)."""
        with self.engine.begin() as conn:
            deleted = work_item_store.delete_finished(conn, now - FINISHED_RETENTION)
        if deleted:
            _log.info("deleted %d work item(s) finished before the retention period", deleted)

    def _enqueue_due(
        self, now: datetime | None = None, *, limit: int = SWEEP_BATCH,
        fresh_only: bool = False,
    ) -> int:
        if fresh_only and self._queue_resting():
            return 0
        now = now or self.clock()
        requeue_queued = not fresh_only and self._queue_is_drained()
        with self.engine.connect() as conn:
            if not work_item_store.due_for_enqueue(conn, now, self.lease, limit=1,
                                            fresh_only=fresh_only,
                                            requeue_queued=requeue_queued):
                return 0
        with write_transaction(self.engine) as conn:
            ids = work_item_store.due_for_enqueue(conn, now, self.lease, limit=limit,
                                           fresh_only=fresh_only,
                                           requeue_queued=requeue_queued, lock=True)
            work_item_store.mark_queued(conn, ids, now)
        self._hand_over(ids)
        return len(ids)

    def _queue_is_drained(self) -> bool:
        """Whether the queue holds no backlog (so a queued item not run within a lease was
        probably lost, not waiting). Queues that cannot tell count as drained."""
        if not isinstance(self.queue, ReportsBacklog):
            return True
        try:
            return self.queue.backlog() == 0
        except QueueUnavailable:
            return True

    def _queue_resting(self) -> bool:
        """Whether the queue failed moments ago: relays then leave the new items to the
        sweeper instead of each paying for another failed attempt (a Redis that does not
        answer costs a connect timeout)."""
        return time.monotonic() < self._queue_rests_until

    def hand_over(self, item_ids: Sequence[str]) -> None:
        """Give the queue these items again (a batch job that ran out of time hands back
        the items it did not start); when the queue refuses them, the sweeper offers them
        again at once."""
        self._hand_over(list(item_ids))

    def _hand_over(self, item_ids: Sequence[str]) -> None:
        if not item_ids:
            return
        try:
            self.queue.enqueue(item_ids)
        except QueueUnavailable as exc:
            if self._queue_up:
                _log.warning("job queue unavailable, %d work item(s) stay pending until the "
                             "sweeper hands them over: %s", len(item_ids), exc)
            self._queue_up = False
            self._queue_rests_until = time.monotonic() + QUEUE_REST_SECONDS
            with write_transaction(self.engine) as conn:
                work_item_store.mark_queued(conn, item_ids, None)
            return
        self._queue_rests_until = 0.0
        if not self._queue_up:
            _log.warning("job queue available again")
            self._queue_up = True

    # --- running work items -------------------------------------------------------------------

    def run_item(self, item_id: str) -> None:
        """Run one attempt of the item when it is due (or its lease expired); otherwise do
        nothing. Never raises for the consumer's own errors (`metacrm.jobs.attempts`)."""
        self._attempts.run(item_id)


class RelayListener:
    """The transaction listener of the job machinery: relays each write command's events
    inside its transaction, and hands the new work items to the queue after the commit."""

    relays_events = True
    """Every event is relayed before the commit (see `unit_of_work.TransactionListener`)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def before_commit(self, conn: sa.Connection, events: Sequence[OutboxEvent]) -> None:
        self.dispatcher.relay_in(conn, events)

    def after_commit(self, events: Sequence[OutboxEvent]) -> None:
        self.dispatcher.after_commit(events)
