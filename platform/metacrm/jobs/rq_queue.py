"""The Redis job queue: hand work item ids to RQ workers (`metacrm worker`).

Each enqueue creates fresh RQ jobs (new job ids: a redelivered item is a new message) calling
`metacrm.jobs.worker_entry.run_work_item(item_id)`, all in one Redis pipeline. Results are
not kept (`result_ttl` 0): the outcome is in the dispatch table. Redis errors become
`QueueUnavailable`; the items stay pending in the database and the sweeper hands them over
when Redis is back.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis
from rq import Queue

from metacrm.kernel.jobs import QueueUnavailable

QUEUE_NAME = "metacrm"
JOB_FUNCTION = "metacrm.jobs.worker_entry.run_work_item"

RESULT_TTL = 0
"""Seconds RQ keeps a finished job: none, the dispatch table records the outcome."""

FAILURE_TTL = 24 * 3600
"""Seconds RQ keeps a job that crashed outside the dispatcher's own error handling."""

CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 10.0
"""Seconds: a Redis that does not answer must not hold a web request's after-commit relay
for long."""


def redis_connection(url: str) -> redis.Redis:
    """A Redis client for the job queue (RQ needs raw bytes: no response decoding)."""
    return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                socket_timeout=SOCKET_TIMEOUT, health_check_interval=30)


class RqJobQueue:
    """A `JobQueue` on RQ; `job_timeout` (seconds) should match the work item lease."""

    def __init__(
        self, url: str, *, job_timeout: float, queue_name: str = QUEUE_NAME,
        connection: redis.Redis | None = None,
    ) -> None:
        self.connection = connection if connection is not None else redis_connection(url)
        self.queue = Queue(queue_name, connection=self.connection)
        self.job_timeout = max(1, round(job_timeout))

    def enqueue(self, item_ids: Sequence[str]) -> None:
        if not item_ids:
            return
        jobs = [
            Queue.prepare_data(
                JOB_FUNCTION, args=(item_id,), timeout=self.job_timeout,
                result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                description=f"work item {item_id}",
            )
            for item_id in item_ids
        ]
        try:
            with self.connection.pipeline() as pipe:
                self.queue.enqueue_many(jobs, pipeline=pipe)
                pipe.execute()
        except redis.exceptions.RedisError as exc:
            raise QueueUnavailable(f"Redis job queue: {exc}") from exc

    def backlog(self) -> int:
        """Jobs waiting in the queue."""
        try:
            return int(self.queue.count)
        except redis.exceptions.RedisError as exc:
            raise QueueUnavailable(f"Redis job queue: {exc}") from exc
