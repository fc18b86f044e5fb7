"""`metacrm scheduler` and `metacrm worker` as an operator runs them: the scheduler relays,
sweeps and runs periodic tasks (and, without Redis, the work items themselves), survives a
failing task, and both stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobs_harness import JobsWorld, jobs_world, redis_server, wait_until

from metacrm.jobs.scheduler import Scheduler
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from web_harness import require_redis


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[JobsWorld]:
    with jobs_world(isolated_database_url, tmp_path, lease_seconds=1.0) as world:
        yield world


def submit(world: JobsWorld) -> str:
    """A work item that nobody hands to the queue (no kick): a scheduler has to."""
    event = EventRecord(id=new_id(), type="trigger.time", entity="gizmo",
                        record_id=new_id(), payload={"record": {}},
                        created_at=datetime.now(UTC))
    with world.engine.begin() as conn:
        item_id = world.services.dispatcher.submit(conn, "probe", "t0", event)
    assert item_id is not None
    return item_id


def test_a_tick_runs_every_periodic_task_even_when_one_fails(world: JobsWorld) -> None:
    seen: list[datetime] = []

    def boom(now: datetime) -> None:
        raise RuntimeError("task bug")

    world.services.periodic["boom"] = boom
    world.services.periodic["count"] = seen.append
    item_id = submit(world)

    report = Scheduler(world.services).tick()

    assert report.failed_steps == ("boom",)
    assert len(seen) == 1 and seen[0].tzinfo is not None
    assert report.swept == 1 and world.ok_items() == [item_id]


def test_scheduler_once_runs_due_items_in_its_own_process(world: JobsWorld) -> None:
    item_id = submit(world)

    result = world.run_command("scheduler", "--once")

    assert result.returncode == 0, result.stderr
    assert "handed 1 work item(s) to the queue" in result.stdout
    (row,) = world.attempts()
    assert row["item_id"] == item_id and row["pid"] != os.getpid()


def test_scheduler_loop_stops_cleanly_on_sigterm(world: JobsWorld) -> None:
    scheduler = world.start_worker("scheduler", "--interval", "0.1")
    item_id = submit(world)
    wait_until(lambda: world.ok_items() == [item_id], what="the scheduler to run the item")

    scheduler.send_signal(signal.SIGTERM)

    assert scheduler.wait(timeout=30) == 0
    assert "scheduler stopped" in world.worker_logs()


def test_a_worker_needs_redis(world: JobsWorld) -> None:
    result = world.run_command("worker", "--burst", env={"METACRM_REDIS_URL": ""})

    assert result.returncode == 1
    assert "METACRM_REDIS_URL is not set" in result.stderr


def test_a_worker_stops_cleanly_on_sigterm(world: JobsWorld, tmp_path: Path) -> None:
    require_redis()
    with redis_server(tmp_path / "redis") as server:
        worker = world.start_worker("--with-scheduler", "--interval", "0.1",
                                    env={"METACRM_REDIS_URL": server.url})
        item_id = submit(world)
        wait_until(lambda: world.ok_items() == [item_id],
                   what="the worker's scheduler to hand the item to the worker")

        worker.send_signal(signal.SIGTERM)

        assert worker.wait(timeout=30) == 0
    (row,) = world.attempts()
    assert row["pid"] == worker.pid
