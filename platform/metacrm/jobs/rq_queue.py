"""The Redis job queue: hand work item ids to RQ workers (`metacrm worker`).

Each enqueue creates fresh RQ jobs (new job ids: a redelivered item is a new message), all in
one Redis pipeline: `metacrm.jobs.worker_entry.run_work_item(item_id)` for a single item,
and for several items at once jobs of up to `MAX_ITEMS_PER_JOB` ids each
(`run_work_items(item_ids)`), spread over at least `SPREAD_JOBS` jobs so that several
workers share a burst. RQ's own bookkeeping costs a worker several milliseconds and about
twenty Redis round trips per job — as much as a webhook delivery itself — so a burst of
items is cheaper as a few jobs than as one job per item. A batch job runs its items for at
most `worker_entry.BATCH_SECONDS` and hands the rest back to the queue, so a slow item
delays the others of its job by little. Results are not kept (`result_ttl` 0): the outcome
is in the dispatch table. Redis errors become
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
BATCH_FUNCTION = "metacrm.jobs.worker_entry.run_work_items"

MAX_ITEMS_PER_JOB = 10
"""Item ids one RQ job carries at most."""

SPREAD_JOBS = 4
"""A burst of items becomes at least this many jobs (when it has as many items), so that
idle workers get a share of it."""

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


BATCH_ALLOWANCE = 2
"""Seconds a batch job may take beyond one item's lease: it starts no item after
`worker_entry.BATCH_SECONDS` (1 s)."""


def job_chunks(item_ids: Sequence[str]) -> list[list[str]]:
    """`item_ids` cut into the id lists of RQ jobs: at most `MAX_ITEMS_PER_JOB` each, at
    least `SPREAD_JOBS` lists when there are that many ids, sizes differing by one at most."""
    ids = list(item_ids)
    count = max(-(-len(ids) // MAX_ITEMS_PER_JOB), min(len(ids), SPREAD_JOBS))
    size, extra = divmod(len(ids), count) if count else (0, 0)
    chunks, start = [], 0
    for n in range(count):
        end = start + size + (1 if n < extra else 0)
        chunks.append(ids[start:end])
        start = end
    return chunks


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
                JOB_FUNCTION, args=(chunk[0],), timeout=self.job_timeout,
                result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                description=f"work item {chunk[0]}",
            ) if len(chunk) == 1 else Queue.prepare_data(
                BATCH_FUNCTION, args=(chunk,), timeout=self.job_timeout + BATCH_ALLOWANCE,
                result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                description=f"{len(chunk)} work items from {chunk[0]}",
            )
            for chunk in job_chunks(item_ids)
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
