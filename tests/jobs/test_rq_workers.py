"""With Redis, RQ worker subprocesses (`metacrm worker`) run the work items; the database
keeps every item until it is done, so a killed worker or a Redis outage delays work but
loses none. Each test runs its own redis-server (never the shared one) and kills every
process it started."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from jobs_harness import JobsWorld, RedisServer, jobs_world, redis_server, wait_until
from rq import Worker

from metacrm.storage import work_item_store
from web_harness import require_redis

LEASE_SECONDS = 2.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()  # the suite's Redis gate: skip (or fail in CI) like every Redis test
    with redis_server(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path, server: RedisServer,
          ) -> Iterator[JobsWorld]:
    with jobs_world(isolated_database_url, tmp_path, redis_url=server.url,
                    lease_seconds=LEASE_SECONDS) as world:
        yield world


def wait_for_workers(server: RedisServer, count: int) -> None:
    client = redis.Redis.from_url(server.url)
    try:
        wait_until(lambda: len(Worker.all(connection=client)) >= count,
                   what=f"{count} RQ worker(s) to register")
    finally:
        client.close()


def wait_for_ok(world: JobsWorld, count: int) -> list[str]:
    try:
        return list(wait_until(lambda: (ok := world.ok_items()) and len(ok) >= count and ok,
                               what=f"{count} handled item(s)"))
    except AssertionError:
        print(world.worker_logs())
        raise


def test_a_worker_process_handles_the_items_of_committed_changes(
    world: JobsWorld, server: RedisServer,
) -> None:
    world.start_worker()
    wait_for_workers(server, 1)

    for n in range(5):
        world.create(f"gizmo {n}")

    handled = wait_for_ok(world, 5)
    assert sorted(handled) == sorted(item.id for item in world.items())
    assert {row["pid"] for row in world.attempts()} != {os.getpid()}
    assert all(row["saw_record"] for row in world.attempts())
    wait_until(lambda: all(item.status == "done" for item in world.items()),
               what="every item done")


def test_two_workers_share_the_items_without_handling_one_twice(
    world: JobsWorld, server: RedisServer,
) -> None:
    world.start_worker()
    world.start_worker()
    wait_for_workers(server, 2)

    for n in range(30):
        world.create(f"gizmo {n}", slow_ms=30)

    handled = wait_for_ok(world, 30)
    assert len(handled) == len(set(handled)) == 30
    assert len({row["pid"] for row in world.attempts()}) == 2, "both workers took items"


def test_the_item_of_a_killed_worker_is_handled_again_by_another(
    world: JobsWorld, server: RedisServer,
) -> None:
    first = world.start_worker()
    wait_for_workers(server, 1)
    world.create("in flight", block=True)
    (started,) = wait_until(lambda: world.attempts(), what="the worker to start the item")
    assert started["outcome"] == "started"

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    world.start_worker("--with-scheduler", "--interval", "0.2")

    (handled,) = wait_for_ok(world, 1)
    assert handled == started["item_id"]
    (item,) = world.items()
    assert item.status == "done" and item.attempts == 2
    assert [(row["attempt"], row["outcome"]) for row in world.attempts()] == [
        (1, "started"), (2, "ok")]


def test_changes_made_while_redis_is_down_are_handled_once_it_is_back(
    world: JobsWorld, server: RedisServer,
) -> None:
    world.start_worker("--with-scheduler", "--interval", "0.2")
    wait_for_workers(server, 1)
    world.create("before the outage")
    wait_for_ok(world, 1)

    server.stop()
    for n in range(5):
        world.create(f"during the outage {n}")  # the change itself still succeeds
    with world.engine.connect() as conn:
        assert work_item_store.count_by_status(conn)["pending"] == 5
    server.start()

    handled = wait_for_ok(world, 6)
    assert len(handled) == len(set(handled)) == 6
    wait_until(lambda: all(item.status == "done" for item in world.items()),
               what="every item done")
