"""What an RQ worker process runs: `run_work_item(item_id)` on the process's Services.

The worker is RQ's non-forking `SimpleWorker`: the Services (compiled metadata, database
pool, consumers) are built once per process and reused by every job, instead of once per
job in a forked child. Isolation between jobs comes from the work item's lease and the
database transaction, not from a fresh process (docs/operations.md).
"""

from __future__ import annotations

import threading

from metacrm.composition import Services, build_services

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
    process_services().dispatcher.run_item(item_id)
