"""A `metacrm worker` stops promptly: RQ's pub/sub listener thread must not hold the
shutdown for its 60 s wait (it did whenever that thread saw the unsubscribe confirmation
before the main thread asked it to stop — a race a loaded machine loses often)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from jobs_harness import RedisServer, redis_server, wait_until
from rq import Queue

from metacrm.jobs.rq_queue import QUEUE_NAME, redis_connection
from metacrm.jobs.rq_worker import MetacrmWorker
from web_harness import require_redis


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()
    with redis_server(tmp_path / "redis") as server:
        yield server


def test_the_listener_thread_ends_soon_after_it_has_seen_the_unsubscribe(
    server: RedisServer,
) -> None:
    connection = redis_connection(server.url)
    worker = MetacrmWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
    worker.subscribe()
    pubsub, listener = worker.pubsub, cast(threading.Thread, worker.pubsub_thread)
    assert pubsub is not None
    wait_until(lambda: pubsub.subscribed, what="the worker's subscription")
    pubsub.unsubscribe()
    # The losing side of the race: the thread reads the confirmation and waits again.
    wait_until(lambda: not pubsub.subscribed, what="the unsubscribe confirmation")
    time.sleep(0.2)

    started = time.monotonic()
    worker.unsubscribe()  # type: ignore[no-untyped-call]  # what RQ's teardown calls

    assert time.monotonic() - started < 5
    assert not listener.is_alive()
    connection.close()
