"""Several relays (web processes after their commits, schedulers) run at once on
PostgreSQL: each takes events the others do not hold, and every event's work items are
created — and handed to the queue — exactly once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from metacrm.jobs.dispatcher import Dispatcher
from metacrm.kernel.jobs import ConsumerRegistry, EventRecord, WorkItem
from metacrm.storage import outbox
from metacrm.storage.system_tables import create_system_tables, work_items

EVENTS = 400
BATCH = 25


class BothRelaysAtOnce:
    """Names two targets per event; the first call of each relay thread waits until the
    other relay is inside its transaction too — so the relays provably overlap, and a relay
    that blocked on the other's locked events would break the barrier."""

    name = "fanout"

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=30)
        self.waited = threading.local()

    def targets(self, event: EventRecord) -> Sequence[str]:
        if not getattr(self.waited, "done", False):
            self.waited.done = True
            self.barrier.wait()
        return ("a", "b")

    def handle(self, item: WorkItem) -> None:
        raise AssertionError("not run here: the test queue only records ids")

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        return None


class RecordingQueue:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    def enqueue(self, item_ids: Sequence[str]) -> None:
        with self.lock:
            self.ids.extend(item_ids)


def test_two_relays_at_once_create_each_events_items_once(
    postgres_engine: sa.Engine,
) -> None:
    with postgres_engine.begin() as conn:
        create_system_tables(conn)
        now = datetime.now(UTC)
        outbox.append(conn, [
            outbox.record_event("record.created", "gizmo", {"id": f"r{n}"}, actor=None,
                                occurred_at=now)
            for n in range(EVENTS)
        ])
    consumers = ConsumerRegistry()
    consumers.register(BothRelaysAtOnce())
    queue = RecordingQueue()
    relays = [Dispatcher(postgres_engine, consumers, clock=lambda: datetime.now(UTC),
                         lease=timedelta(seconds=60), queue=queue) for _ in range(2)]
    published: list[int] = []
    errors: list[BaseException] = []

    def run(dispatcher: Dispatcher) -> None:
        try:
            total = 0
            while (count := dispatcher.relay_once(BATCH)) > 0:
                total += count
            published.append(total)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(published) == EVENTS and all(count > 0 for count in published)
    with postgres_engine.connect() as conn:
        rows = conn.execute(sa.select(work_items.c.id, work_items.c.event_id,
                                      work_items.c.target)).all()
        pending = outbox.pending(conn)
    assert pending == []
    assert len(rows) == 2 * EVENTS
    assert len({(row.event_id, row.target) for row in rows}) == 2 * EVENTS
    assert sorted(queue.ids) == sorted(row.id for row in rows), "each item queued once"
