"""What an RQ worker process runs: `run_work_item(item_id)` on the process's Services.

The worker is RQ's non-forking `SimpleWorker`: the Services (compiled metadata, database
pool, consumers) are built once per process and reused by every job, instead of once per
job in a forked child. Isolation between jobs comes from the work item's lease and the
database transaction, not from a fresh process (docs/operations.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from metacrm.composition import Services, build_services

BATCH_SECONDS = 1.0
"""A batch job starts no item after running this long: the rest go back to the queue (a
slow receiver must not hold up a whole batch, nor a worker's warm shutdown)."""

_services: Services | None = None
_lock = threading.Lock()


def use_services(services: Services) -> None:
    """Run this process's work items on `services` (`metacrm worker` builds them up front
    so the first job does not pay for it)."""
    global _services
    with _lock:
        _services = services


def process_services() -> Services:
    """The process's Services, built from the environment on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services()
        return _services


def run_work_item(item_id: str) -> None:
    """The RQ job function: one attempt of work item `item_id` (never raises for the
    consumer's own errors: the dispatcher records them)."""
    services = process_services()
    services.packs.refresh()  # a pack installed since the last job may own this item
    services.dispatcher.run_item(item_id)


def run_work_items(item_ids: Sequence[str]) -> None:
    """The RQ job function of a batch (`rq_queue.job_chunks`): `run_work_item` for each id,
    in order; the ids not started within `BATCH_SECONDS` are handed back to the queue."""
    services = process_services()
    services.packs.refresh()  # a pack installed since the last job may own these items
    dispatcher = services.dispatcher
    started = time.monotonic()
    for index, item_id in enumerate(item_ids):
        if index and time.monotonic() - started >= BATCH_SECONDS:
            dispatcher.hand_over(item_ids[index:])
            return
        dispatcher.run_item(item_id)
