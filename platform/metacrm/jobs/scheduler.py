"""The scheduler loop: relay the outbox, sweep the dispatch table, run periodic tasks.

Each tick (every `interval` seconds): relay every pending outbox event; hand the queue the
items it may have lost (due retries, items of dead workers); run every task of
`services.periodic` with the current time (time and cron triggers, retention); then hand
over the items those tasks submitted. Any step's error is logged and the loop goes on — a
database or Redis outage delays work, it does not stop the scheduler. Several schedulers
may run at once: relays lock the events they take, claims are atomic and periodic tasks are
written to be safe (see `composition.PeriodicTask`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from metacrm.composition import PeriodicTask, Services

_log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0
"""Seconds between ticks."""


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did."""

    relayed: int
    """Outbox events published."""
    swept: int
    """Work items handed to the queue by the sweeps."""
    failed_steps: tuple[str, ...]
    """Steps (`relay`, `sweep`, periodic task names) that raised."""


class Scheduler:
    """Runs the ticks of one process."""

    def __init__(self, services: Services, *, interval: float = DEFAULT_INTERVAL) -> None:
        if not interval > 0:
            raise ValueError("the scheduler interval must be a positive number of seconds")
        self.services = services
        self.interval = interval

    def tick(self) -> TickReport:
        dispatcher = self.services.dispatcher
        failed: list[str] = []
        _guarded("packs", self._refresh_packs, failed)
        relayed = _guarded("relay", dispatcher.relay_all, failed) or 0
        swept = _guarded("sweep", lambda: dispatcher.sweep_once(self.services.clock()),
                         failed) or 0
        for name, task in list(self.services.periodic.items()):
            _guarded(name, partial(_run_periodic, task, self.services), failed)
        swept += _guarded("sweep", lambda: dispatcher.sweep_once(self.services.clock()),
                          failed) or 0
        return TickReport(relayed, swept, tuple(failed))

    def _refresh_packs(self) -> None:
        """Catch up with pack changes (their periodic jobs and consumers) before the tick."""
        self.services.packs.refresh()

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set (a signal handler or the owning process sets it)."""
        _log.info("scheduler started (every %.3g s)", self.interval)
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # never let one bad tick end the loop
                _log.exception("scheduler tick failed")
            stop.wait(self.interval)
        _log.info("scheduler stopped")


def _run_periodic(task: PeriodicTask, services: Services) -> None:
    task(services.clock())


def _guarded(name: str, step: Callable[[], int | None], failed: list[str]) -> int | None:
    try:
        return step()
    except Exception:
        _log.exception("scheduler step %r failed", name)
        failed.append(name)
        return None


def start_background_scheduler(
    services: Services, *, interval: float = DEFAULT_INTERVAL
) -> tuple[threading.Thread, threading.Event]:
    """Run the scheduler loop in a daemon thread of this process (the embedded set-up of
    `metacrm serve` without Redis, and `metacrm worker --with-scheduler`); set the event
    to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=Scheduler(services, interval=interval).run, args=(stop,),
                              name="metacrm-scheduler", daemon=True)
    thread.start()
    return thread, stop
