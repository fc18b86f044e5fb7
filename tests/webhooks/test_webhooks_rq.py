"""End to end with RQ: `metacrm worker` subprocesses deliver webhooks from a private Redis.

A worker killed (SIGKILL) while the receiver holds its request leaves the work item running
with a lease; a new worker's scheduler hands it out again once the lease ran out and the
webhook arrives — with the same `webhook-id`. Changes made while Redis is down are relayed
to work items anyway and delivered once it is back. Each test runs its own redis-server
(never the shared one) and kills every process it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from webhook_harness import WebhookWorld, webhook_world

from metacrm.storage import outbox, work_item_store
from process_harness import DEADLINE, PLATFORM, RedisServer, wait_until
from web_harness import require_redis
from webhook_receiver import Receiver, receiver

LEASE_SECONDS = 2.0


class Workers:
    """`metacrm worker` subprocesses with the test instance's environment."""

    def __init__(self, world: WebhookWorld, redis_url: str, root: Path) -> None:
        settings = world.web.settings
        self.root = root
        self.env = {
            **os.environ,
            "PYTHONPATH": str(PLATFORM),
            "METACRM_DATABASE_URL": settings.database_url,
            "METACRM_METADATA_PATH": str(root / "packs"),
            "METACRM_INSTANCE_PATH": str(root / "instance"),
            "METACRM_SECRET_KEY": settings.secret_key,
            "METACRM_REDIS_URL": redis_url,
            "METACRM_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "METACRM_WEBHOOK_ALLOW_PRIVATE": "true",
            "METACRM_WEBHOOK_RETRY_FIRST_SECONDS": "0.5",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with (self.root / f"worker-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", "from metacrm.cli.main import main; main()", "worker",
                 "--with-scheduler", "--interval", "0.2"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(
            self.root.glob("worker-*.log")))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()  # the suite's Redis gate: skip (or fail in CI) like every Redis test
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def setup(isolated_database_url: str, tmp_path: Path, redis_server: RedisServer
          ) -> Iterator[tuple[WebhookWorld, Workers, Receiver]]:
    with webhook_world(isolated_database_url, tmp_path, redis_url=redis_server.url,
                       job_lease_seconds=LEASE_SECONDS) as world, receiver() as rx:
        workers = Workers(world, redis_server.url, tmp_path)
        try:
            yield world, workers, rx
        except BaseException:
            print(workers.logs())
            raise
        finally:
            workers.kill_all()


def test_a_delivery_cut_short_by_a_killed_worker_arrives_with_the_same_webhook_id(
    setup: tuple[WebhookWorld, Workers, Receiver],
) -> None:
    world, workers, rx = setup
    hook = world.subscribe(world.boss, rx.url())
    rx.secrets = [hook["secret"]]
    rx.script.hold = threading.Event()
    first = workers.start()

    deal = world.create_deal(world.boss, title="in flight")
    assert rx.script.held.wait(DEADLINE), workers.logs()
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    hold, rx.script.hold = rx.script.hold, None
    hold.set()
    workers.start()

    wait_until(lambda: len(rx.received()) >= 2, what="the delivery to be made again")
    first_try, second_try = rx.received()[:2]
    with world.engine.connect() as conn:
        (event,) = outbox.events_for(conn, "deal", deal["id"])
    assert first_try.webhook_id == second_try.webhook_id == event.id
    assert second_try.body == first_try.body
    assert second_try.verified_with == [hook["secret"]]
    (item,) = wait_until(lambda: [i for i in world.items(hook["id"]) if i.status == "done"],
                         what="the work item to be done")
    assert item.attempts == 2
    assert [(a.attempt, a.status_code) for a in world.attempts(hook["id"], event.id)] == [
        (2, 200)], "the killed attempt never finished, so it has no log row"


def test_changes_made_while_redis_is_down_are_all_delivered_once_it_is_back(
    setup: tuple[WebhookWorld, Workers, Receiver], redis_server: RedisServer,
) -> None:
    world, workers, rx = setup
    hook = world.subscribe(world.boss, rx.url())
    rx.secrets = [hook["secret"]]
    workers.start()
    world.create_deal(world.boss, title="before the outage")
    wait_until(lambda: rx.received(), what="the first delivery")

    redis_server.stop()
    ids = [world.create_deal(world.boss, title=f"during the outage {n}")["id"]
           for n in range(3)]
    with world.engine.connect() as conn:
        assert work_item_store.count_by_status(conn, "webhook")["pending"] == 3
    redis_server.start()

    wait_until(lambda: len(rx.received()) >= 4, what="every delivery")
    with world.engine.connect() as conn:
        expected = {e.id for deal_id in ids for e in outbox.events_for(conn, "deal", deal_id)}
    got = rx.received()[1:]
    assert {d.webhook_id for d in got} == expected
    assert all(d.verified_with == [hook["secret"]] and not d.schema_errors for d in got)
