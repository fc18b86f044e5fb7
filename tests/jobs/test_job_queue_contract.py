"""The `JobQueue` port's contract, run over both adapters — inline (no Redis: items run in
the committing process) and RQ (a real Redis and a `metacrm worker` subprocess). Whatever
the queue, a feature relies on: the items of a committed change are each handled once,
after the commit; a failing item is retried until it succeeds; a rolled-back change runs
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_harness import JobsWorld, jobs_world, redis_server, wait_until
from jobs_probe import ADMIN

from metacrm.jobs.scheduler import Scheduler
from metacrm.storage import work_item_store
from web_harness import require_redis


@pytest.fixture(params=["inline", "rq"])
def world(request: pytest.FixtureRequest, isolated_database_url: str,
          tmp_path: Path) -> Iterator[JobsWorld]:
    if request.param == "inline":
        with jobs_world(isolated_database_url, tmp_path, lease_seconds=2.0) as world:
            yield world
        return
    require_redis()
    with redis_server(tmp_path / "redis") as server, jobs_world(
            isolated_database_url, tmp_path, redis_url=server.url, lease_seconds=2.0) as world:
        world.start_worker()
        yield world


def settle(world: JobsWorld, count: int) -> list[work_item_store.WorkItemRow]:
    """Tick the scheduler (retries, sweeps) until `count` items exist and all are done."""
    scheduler = Scheduler(world.services, interval=0.05)

    def done() -> list[work_item_store.WorkItemRow] | None:
        scheduler.tick()
        items = world.items()
        return items if len(items) == count and all(i.status == "done" for i in items) \
            else None

    try:
        found: list[work_item_store.WorkItemRow] = wait_until(done, what=f"{count} items done")
    except AssertionError:
        print(world.worker_logs())
        raise
    return found


def test_the_items_of_a_committed_change_are_each_handled_once_after_it(
        world: JobsWorld) -> None:
    record_id = world.create("fan", fanout=3)

    items = settle(world, 3)

    attempts = world.attempts()
    assert sorted(row["target"] for row in attempts) == ["t0", "t1", "t2"]
    assert all(row["outcome"] == "ok" and row["saw_record"] for row in attempts)
    assert {row["record_id"] for row in attempts} == {record_id}
    assert {item.attempts for item in items} == {1}


def test_a_failing_item_is_retried_until_it_succeeds(world: JobsWorld) -> None:
    world.create("flaky", fail_times=2)

    [item] = settle(world, 1)

    assert item.attempts == 3
    assert [(row["attempt"], row["outcome"]) for row in world.attempts()] == [
        (1, "failed"), (2, "failed"), (3, "ok")]


def test_a_rolled_back_change_runs_nothing(world: JobsWorld) -> None:
    with pytest.raises(RuntimeError), world.services.records.transaction() as conn:
        world.services.records.create_in(conn, ADMIN, "gizmo", {"title": "never"})
        raise RuntimeError("the command fails after writing")
    after = world.create("after")  # a later change flows through the same queue

    [item] = settle(world, 1)

    assert item.event.record_id == after
    assert [row["record_id"] for row in world.attempts()] == [after]
