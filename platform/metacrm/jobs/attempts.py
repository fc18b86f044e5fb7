"""One attempt at a work item: claim it, let its consumer handle it, record the outcome.

The claim is a lease (`METACRM_JOB_LEASE_SECONDS`): until it runs out nobody else gets the
item; a worker that dies holding it leaves it to the sweeper. Consumer errors never escape:
`RetryLater` and any other exception become a retry at the consumer's `retry_delay` (or the
exception's own delay), or a failure when that is None; `GiveUp` fails the item at once. The
reason is kept in `last_error`. Only the attempt that still owns the item records an outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from metacrm.kernel.jobs import Consumer, ConsumerRegistry, GiveUp, RetryLater, WorkItem
from metacrm.services.records.unit_of_work import write_transaction
from metacrm.storage import work_item_store

_log = logging.getLogger("metacrm.jobs.dispatcher")


class AttemptRunner:
    """Runs attempts of work items for the consumers of one process."""

    def __init__(self, engine: sa.Engine, consumers: ConsumerRegistry, *,
                 clock: Callable[[], datetime], lease: timedelta) -> None:
        self.engine = engine
        self.consumers = consumers
        self.clock = clock
        self.lease = lease

    def run(self, item_id: str) -> None:
        """Run one attempt of the item when it is due (or its lease expired); otherwise do
        nothing (done, running elsewhere, not due yet, unknown)."""
        with write_transaction(self.engine) as conn:
            row = work_item_store.claim(conn, item_id, self.clock(), self.lease)
        if row is None:
            return
        item = WorkItem(id=row.id, consumer=row.consumer, target=row.target, event=row.event,
                        attempt=row.attempts, first_attempt_at=row.first_attempt_at)
        consumer = self.consumers.get(row.consumer)
        if consumer is None:
            _log.error("work item %s: no consumer named %r in this process", item.id,
                       item.consumer)
            self._reschedule(item, f"no consumer named {item.consumer!r} in this process",
                             self.lease)
            return
        try:
            consumer.handle(item)
        except GiveUp as exc:
            self._fail(item, f"gave up: {exc.reason}")
        except RetryLater as exc:
            self._retry(consumer, item, exc.reason, exc.delay)
        except Exception as exc:
            _log.warning("work item %s (%s -> %s) attempt %d failed", item.id, item.consumer,
                         item.target, item.attempt, exc_info=True)
            self._retry(consumer, item, f"{type(exc).__name__}: {exc}", None)
        else:
            with write_transaction(self.engine) as conn:
                finished = work_item_store.complete(conn, item.id, item.attempt, self.clock())
            if not finished:
                _log.warning("work item %s finished after its lease ran out; it was handed "
                             "out again", item.id)

    def _retry(
        self, consumer: Consumer, item: WorkItem, reason: str, delay: timedelta | None
    ) -> None:
        if delay is None:
            try:
                delay = consumer.retry_delay(item)
            except Exception:
                _log.exception("consumer %r failed to give a retry delay", consumer.name)
                self._fail(item, f"{reason} (and retry_delay failed)")
                return
        if delay is None:
            self._fail(item, reason)
        else:
            self._reschedule(item, reason, delay)

    def _reschedule(self, item: WorkItem, reason: str, delay: timedelta) -> None:
        now = self.clock()
        with write_transaction(self.engine) as conn:
            work_item_store.reschedule(conn, item.id, item.attempt, now + max(delay, timedelta()),
                                reason, now)

    def _fail(self, item: WorkItem, reason: str) -> None:
        _log.error("work item %s (%s -> %s) failed for good after %d attempt(s): %s",
                   item.id, item.consumer, item.target, item.attempt, reason)
        with write_transaction(self.engine) as conn:
            work_item_store.fail(conn, item.id, item.attempt, reason, self.clock())
