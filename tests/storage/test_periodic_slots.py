"""A pack's periodic job runs once per period for the instance, however many schedulers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import sqlalchemy as sa

from metacrm.extension_host.adapters import ThrottledJob
from metacrm.extension_host.contributions import PeriodicEntry
from metacrm.storage.periodic_slots import claim_period
from metacrm.storage.system_tables import create_system_tables

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def schedulers(engine: sa.Engine, count: int, runs: list[datetime]) -> list[ThrottledJob]:
    """The same pack job as `count` scheduler processes each hold it."""
    with engine.begin() as connection:
        create_system_tables(connection)
    entry = PeriodicEntry("sync", timedelta(minutes=5), runs.append)
    return [ThrottledJob("ext.crm_sync.sync", entry, partial(claim_period, engine))
            for _ in range(count)]


def test_two_schedulers_run_the_job_once_per_period(engine: sa.Engine) -> None:
    runs: list[datetime] = []
    first, second = schedulers(engine, 2, runs)

    for minutes in (0, 1, 4, 5, 6, 10, 12):
        moment = START + timedelta(minutes=minutes)
        first(moment)
        second(moment + timedelta(seconds=1))  # the other process ticks a second later

    assert runs == [START, START + timedelta(minutes=5), START + timedelta(minutes=10)]


def test_schedulers_racing_for_the_first_run_start_it_once(engine: sa.Engine) -> None:
    runs: list[datetime] = []
    jobs = schedulers(engine, 4, runs)
    barrier = threading.Barrier(len(jobs))

    def tick(job: ThrottledJob) -> None:
        barrier.wait()
        job(START)

    threads = [threading.Thread(target=tick, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert runs == [START]
