"""Without Redis, a change's work items run in the committing process right after the
commit; retries, orphaned items and submitted items are run by the scheduler's tick."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from jobs_harness import JobsWorld, jobs_world, wait_until
from jobs_probe import ADMIN, MAX_ATTEMPTS

from metacrm.jobs.scheduler import Scheduler
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord, WorkItem
from metacrm.storage import outbox, work_item_store
from metacrm.storage.system_tables import work_items


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[JobsWorld]:
    with jobs_world(isolated_database_url, tmp_path, lease_seconds=1.0) as world:
        yield world


def tick_until_settled(world: JobsWorld, item_id: str) -> work_item_store.WorkItemRow:
    """Run scheduler ticks until the item is done or failed."""
    scheduler = Scheduler(world.services, interval=0.05)

    def settled() -> work_item_store.WorkItemRow | None:
        scheduler.tick()
        with world.engine.connect() as conn:
            item = work_item_store.get(conn, item_id)
        return item if item is not None and item.status in ("done", "failed") else None

    found: work_item_store.WorkItemRow = wait_until(settled, what=f"work item {item_id} to settle")
    return found


def test_a_change_is_handled_once_right_after_its_commit(world: JobsWorld) -> None:
    record_id = world.create("first", fanout=2)

    rows = world.attempts()
    assert [(row["target"], row["outcome"], row["attempt"]) for row in rows] == [
        ("t0", "ok", 1), ("t1", "ok", 1)]
    assert all(row["record_id"] == record_id for row in rows)
    assert all(row["saw_record"] for row in rows), "handled before the commit"
    items = world.items()
    assert {(item.target, item.status, item.attempts) for item in items} == {
        ("t0", "done", 1), ("t1", "done", 1)}
    assert items[0].event.type == "record.created"
    with world.engine.connect() as conn:
        assert outbox.pending(conn) == []

    world.services.records.update(ADMIN, "gizmo", record_id, {"title": "second"})
    assert len(world.ok_items()) == 4
    assert [item.event.type for item in world.items()[2:]] == ["record.updated"] * 2


def test_a_write_command_stores_its_events_published_without_marking_them(
        world: JobsWorld) -> None:
    """The relay runs inside the command's transaction, so its events are written as
    published: no UPDATE of the outbox, and the audit rows and the events of the command
    go out in one statement (two on SQLite)."""
    statements: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(world.engine, "before_cursor_execute", note)
    try:
        record_id = world.create("first", fanout=1)
    finally:
        sa.event.remove(world.engine, "before_cursor_execute", note)

    trailing = [s for s in statements if ("metacrm_audit" in s or "metacrm_outbox" in s)
                and "WHERE 0 = 1" not in s]  # SQLite's write lock (unit_of_work)
    assert not [s for s in trailing if s.startswith("UPDATE")]
    assert len(trailing) == (1 if world.engine.dialect.name == "postgresql" else 2)
    with world.engine.connect() as conn:
        stored = outbox.events_for(conn, "gizmo", record_id)
    assert [e.published_at == e.created_at for e in stored] == [True]
    assert len(world.ok_items()) == 1


def test_a_rolled_back_change_runs_nothing(world: JobsWorld) -> None:
    with pytest.raises(RuntimeError), world.services.records.transaction() as conn:
        world.services.records.create_in(conn, ADMIN, "gizmo", {"title": "never"})
        raise RuntimeError("the command fails after writing")

    world.services.dispatcher.kick()
    assert world.attempts() == []
    assert world.items() == []


def test_failed_attempts_are_retried_until_one_succeeds(world: JobsWorld) -> None:
    world.create("flaky", fail_times=3)
    (item,) = world.items()
    assert item.status == "pending" and item.attempts == 1
    assert item.last_error == "probe failure on attempt 1"

    settled = tick_until_settled(world, item.id)

    assert settled.status == "done" and settled.attempts == 4
    assert [(row["attempt"], row["outcome"]) for row in world.attempts()] == [
        (1, "failed"), (2, "failed"), (3, "failed"), (4, "ok")]
    assert {row["item_id"] for row in world.attempts()} == {item.id}
    assert settled.first_attempt_at is not None and settled.done_at is not None
    assert settled.first_attempt_at < settled.done_at


def test_an_item_fails_when_the_consumer_stops_retrying_or_gives_up(world: JobsWorld) -> None:
    world.create("hopeless", fail_times=99)
    world.create("refused", give_up=True)
    hopeless, refused = world.items()

    assert refused.status == "failed" and refused.attempts == 1
    assert refused.last_error == "gave up: the probe was told to give up"
    settled = tick_until_settled(world, hopeless.id)
    assert settled.status == "failed" and settled.attempts == MAX_ATTEMPTS
    assert settled.last_error == f"probe failure on attempt {MAX_ATTEMPTS}"


def test_retry_now_runs_a_finished_item_again(world: JobsWorld) -> None:
    world.create("again")
    (item,) = world.items()

    assert world.services.dispatcher.retry_now(item.id) is True
    assert [row["attempt"] for row in world.attempts()] == [1, 2]
    (again,) = world.items()
    assert again.id == item.id and again.status == "done" and again.attempts == 2
    assert world.services.dispatcher.retry_now(new_id()) is False


def event(record_id: str) -> EventRecord:
    return EventRecord(id=new_id(), type="trigger.time", entity="gizmo", record_id=record_id,
                       payload={"record": {"title": "due"}}, created_at=datetime.now(UTC))


def test_submitted_items_run_on_kick_and_are_created_once(world: JobsWorld) -> None:
    dispatcher = world.services.dispatcher
    due = event(new_id())
    with world.engine.begin() as conn:
        item_id = dispatcher.submit(conn, "probe", "t0", due)
        assert dispatcher.submit(conn, "probe", "t0", due) is None
    assert item_id is not None
    assert world.attempts() == []

    dispatcher.kick()

    assert world.ok_items() == [item_id]
    with pytest.raises(ValueError, match="no consumer named 'nobody'"), \
            world.engine.begin() as conn:
        dispatcher.submit(conn, "nobody", "x", due)


def test_an_item_whose_worker_died_is_run_again_after_its_lease(world: JobsWorld) -> None:
    dispatcher = world.services.dispatcher
    with world.engine.begin() as conn:
        item_id = dispatcher.submit(conn, "probe", "t0", event(new_id()))
    assert item_id is not None
    with world.engine.begin() as conn:  # a worker claims the item and dies
        claimed = work_item_store.claim(conn, item_id, datetime.now(UTC), dispatcher.lease)
    assert claimed is not None and claimed.attempts == 1

    assert dispatcher.sweep_once() == 0, "handed out again within the lease"
    settled = tick_until_settled(world, item_id)

    assert settled.status == "done" and settled.attempts == 2
    assert [(row["item_id"], row["attempt"]) for row in world.attempts()] == [(item_id, 2)]


class BrokenTargets:
    name = "broken"

    def targets(self, event: EventRecord) -> Sequence[str]:
        raise RuntimeError("bug in targets")

    def handle(self, item: WorkItem) -> None:
        raise AssertionError("never called")

    def retry_delay(self, item: WorkItem) -> None:
        return None


def test_a_consumer_that_cannot_name_targets_does_not_stop_the_others(
    world: JobsWorld,
) -> None:
    world.services.consumers.register(BrokenTargets())

    world.create("still handled")

    assert len(world.ok_items()) == 1
    with world.engine.connect() as conn:
        consumers = conn.execute(sa.select(work_items.c.consumer)).scalars().all()
    assert consumers == ["probe"]


def test_finished_items_are_forgotten_after_the_retention_period(world: JobsWorld) -> None:
    world.create("kept for a while")
    retention = world.services.periodic["jobs.retention"]

    retention(datetime.now(UTC) + timedelta(days=29))
    assert len(world.items()) == 1
    retention(datetime.now(UTC) + timedelta(days=31))
    assert world.items() == []


def test_events_written_outside_a_write_command_are_relayed_by_kick(
    world: JobsWorld,
) -> None:
    with world.engine.begin() as conn:  # no listeners: nobody relays in the transaction
        outbox.append(conn, [outbox.record_event(
            "record.created", "gizmo", {"id": new_id(), "title": "raw"}, actor=None,
            occurred_at=datetime.now(UTC))])
    assert world.attempts() == []

    world.services.dispatcher.kick()

    assert len(world.ok_items()) == 1
