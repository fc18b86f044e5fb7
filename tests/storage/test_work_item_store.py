"""The dispatch table's state changes: idempotent creation, exclusive claims with leases,
outcomes recorded only by the attempt that owns the item, and what the sweeper hands out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.storage import work_item_store
from metacrm.storage.system_tables import create_system_tables

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@pytest.fixture
def db(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        create_system_tables(conn)
    return engine


def event(**changes: str) -> EventRecord:
    values = {"id": new_id(), "type": "record.created", "entity": "deal",
              "record_id": new_id()}
    values.update(changes)
    return EventRecord(payload={"record": {"title": "Ünïcode ✓"}}, created_at=T0, **values)


def create(db: sa.Engine, *items: work_item_store.NewWorkItem, at: datetime = T0,
           queued: bool = False) -> list[str]:
    with db.begin() as conn:
        return work_item_store.insert_items(conn, list(items), at, queued=queued)


def one(db: sa.Engine, target: str = "t") -> str:
    (item_id,) = create(db, work_item_store.NewWorkItem("probe", target, event()))
    return item_id


def claim(db: sa.Engine, item_id: str, at: datetime) -> work_item_store.WorkItemRow | None:
    with db.begin() as conn:
        return work_item_store.claim(conn, item_id, at, LEASE)


def get(db: sa.Engine, item_id: str) -> work_item_store.WorkItemRow:
    with db.connect() as conn:
        found = work_item_store.get(conn, item_id)
    assert found is not None
    return found


def test_an_item_exists_once_per_consumer_target_and_event(db: sa.Engine) -> None:
    shared = event()
    first = create(db, work_item_store.NewWorkItem("probe", "a", shared),
                   work_item_store.NewWorkItem("probe", "b", shared))
    again = create(db, work_item_store.NewWorkItem("probe", "a", shared),
                   work_item_store.NewWorkItem("other", "a", shared))

    assert len(first) == 2 and len(again) == 1
    stored = get(db, first[0])
    assert stored.event == shared
    assert (stored.status, stored.attempts, stored.next_attempt_at) == ("pending", 0, T0)
    with db.connect() as conn:
        assert work_item_store.find(conn, "other", "a", shared.id) is not None
        assert work_item_store.count_by_status(conn) == {"pending": 3, "running": 0, "done": 0,
                                                  "failed": 0}


def test_a_claim_holds_the_item_for_one_lease(db: sa.Engine) -> None:
    item_id = one(db)

    assert claim(db, item_id, T0 - timedelta(seconds=1)) is None, "not due yet"
    first = claim(db, item_id, T0)
    assert first is not None
    assert (first.status, first.attempts, first.lease_until) == ("running", 1, T0 + LEASE)
    assert first.first_attempt_at == T0
    assert claim(db, item_id, T0 + LEASE) is None, "the lease still holds"

    second = claim(db, item_id, T0 + LEASE + timedelta(seconds=1))
    assert second is not None and second.attempts == 2
    assert second.first_attempt_at == T0


def test_only_the_attempt_that_owns_the_item_records_its_outcome(db: sa.Engine) -> None:
    item_id = one(db)
    claim(db, item_id, T0)
    later = T0 + LEASE + timedelta(seconds=1)
    claim(db, item_id, later)  # the first worker was deemed dead

    with db.begin() as conn:
        assert work_item_store.complete(conn, item_id, 1, later) is False
        assert work_item_store.reschedule(conn, item_id, 1, later, "late", later) is False
        assert work_item_store.fail(conn, item_id, 1, "late", later) is False
    assert get(db, item_id).status == "running"

    with db.begin() as conn:
        assert work_item_store.reschedule(conn, item_id, 2, later + LEASE, "x" * 5000, later)
    rescheduled = get(db, item_id)
    assert (rescheduled.status, rescheduled.next_attempt_at) == ("pending", later + LEASE)
    assert rescheduled.last_error == "x" * work_item_store.MAX_ERROR_LENGTH

    third = claim(db, item_id, later + LEASE)
    assert third is not None and third.attempts == 3
    with db.begin() as conn:
        assert work_item_store.complete(conn, item_id, 3, later + LEASE)
    done = get(db, item_id)
    assert (done.status, done.done_at, done.lease_until) == ("done", later + LEASE, None)


def test_failed_items_stay_failed_until_retried_now(db: sa.Engine) -> None:
    item_id = one(db)
    claim(db, item_id, T0)
    with db.begin() as conn:
        assert work_item_store.retry_now(conn, item_id, T0) is False, "an attempt is running"
        work_item_store.fail(conn, item_id, 1, "gave up", T0)
    assert claim(db, item_id, T0 + timedelta(days=1)) is None

    with db.begin() as conn:
        assert work_item_store.retry_now(conn, item_id, T0 + timedelta(days=1))
        assert work_item_store.retry_now(conn, new_id(), T0) is False
    retried = claim(db, item_id, T0 + timedelta(days=1))
    assert retried is not None and retried.attempts == 2
    assert retried.last_error == "gave up"


def due(db: sa.Engine, at: datetime, **options: bool) -> set[str]:
    with db.connect() as conn:
        return set(work_item_store.due_for_enqueue(conn, at, LEASE, **options))


def test_the_sweeper_offers_what_the_queue_does_not_hold(db: sa.Engine) -> None:
    fresh = one(db, "fresh")
    (queued,) = create(db, work_item_store.NewWorkItem("probe", "queued", event()), queued=True)
    (future,) = create(db, work_item_store.NewWorkItem("probe", "future", event()),
                       at=T0 + timedelta(hours=1))
    running = one(db, "running")
    claim(db, running, T0)
    finished = one(db, "finished")
    claim(db, finished, T0)
    with db.begin() as conn:
        work_item_store.complete(conn, finished, 1, T0)

    assert due(db, T0) == {fresh}
    assert due(db, T0, fresh_only=True) == {fresh}
    later = T0 + LEASE + timedelta(seconds=1)
    assert due(db, later) == {fresh, queued, running}
    assert due(db, later, requeue_queued=False) == {fresh, running}
    assert due(db, later, fresh_only=True) == {fresh}

    with db.begin() as conn:
        work_item_store.mark_queued(conn, [fresh, running], later)
    assert due(db, later) == {queued}
    with db.begin() as conn:
        work_item_store.mark_queued(conn, [fresh], None)  # the queue refused it
    assert due(db, later) == {fresh, queued}
    assert future in due(db, T0 + timedelta(hours=2))


def test_items_are_listed_newest_first_per_consumer_and_target(db: sa.Engine) -> None:
    ids = [one(db, "sub") for _ in range(5)]
    one(db, "other")

    with db.connect() as conn:
        page = work_item_store.list_for(conn, "probe", "sub", limit=3)
        rest = work_item_store.list_for(conn, "probe", "sub", before_id=page[-1].id)
        pending = work_item_store.list_for(conn, "probe", "sub", statuses=["done"])

    assert [item.id for item in page + rest] == list(reversed(ids))
    assert pending == []


def test_retention_deletes_only_items_finished_before_the_cutoff(db: sa.Engine) -> None:
    old_done, old_failed, recent, waiting = (one(db, f"t{n}") for n in range(4))
    for item_id, at in ((old_done, T0), (old_failed, T0), (recent, T0 + timedelta(days=2))):
        claim(db, item_id, at)
    with db.begin() as conn:
        work_item_store.complete(conn, old_done, 1, T0)
        work_item_store.fail(conn, old_failed, 1, "no", T0)
        work_item_store.complete(conn, recent, 1, T0 + timedelta(days=2))
        assert work_item_store.delete_finished(conn, T0 + timedelta(days=1), limit=1) == 1
        assert work_item_store.delete_finished(conn, T0 + timedelta(days=1)) == 1
        assert work_item_store.delete_finished(conn, T0 + timedelta(days=1)) == 0
    with db.connect() as conn:
        assert work_item_store.get(conn, recent) is not None
        assert work_item_store.get(conn, waiting) is not None
        assert work_item_store.count_by_status(conn) == {"pending": 1, "running": 0, "done": 1,
                                                  "failed": 0}
