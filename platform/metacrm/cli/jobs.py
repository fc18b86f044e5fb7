"""`metacrm worker` and `metacrm scheduler`: the processes that run asynchronous work.

* `metacrm worker` (needs METACRM_REDIS_URL): an RQ `SimpleWorker` — non-forking, so the
  Services are built once and reused by every job — running work items from the `metacrm`
  queue. When Redis goes away it waits and reconnects instead of exiting. `--with-scheduler`
  also runs the scheduler loop in a thread of the same process.
* `metacrm scheduler`: the relay/sweep/periodic-task loop (see `metacrm.jobs.scheduler`);
  without Redis it runs the work items itself (inline queue).

Both stop cleanly on SIGTERM or SIGINT: the worker after its current job, the scheduler after
its current tick.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import click

from metacrm.cli.errors import reports_errors
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.settings import Settings

RECONNECT_SECONDS = 2.0
"""Wait before a worker that lost Redis tries again."""

LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("flask_appbuilder").setLevel(logging.ERROR)


@click.command()
@click.option("--burst", is_flag=True, help="Quit once the queue is empty.")
@click.option("--with-scheduler", is_flag=True,
              help="Also run the scheduler loop (relay, sweeper, periodic tasks) here.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Seconds between scheduler ticks (with --with-scheduler).")
@click.option("--name", default=None, help="Worker name (default: RQ's host.pid name).")
@click.option("--log-level", type=LOG_LEVELS, default="INFO", show_default=True)
@reports_errors
def worker(burst: bool, with_scheduler: bool, interval: float, name: str | None,
           log_level: str) -> None:
    """Run work items from the Redis queue (METACRM_REDIS_URL) until stopped."""
    _configure_logging(log_level)
    settings = Settings.from_env()
    if not settings.redis_url:
        raise ValidationFailed("a worker needs Redis", [ErrorDetail(
            "METACRM_REDIS_URL is not set: without Redis, work items run in the web process "
            "and in `metacrm scheduler`", "METACRM_REDIS_URL")])
    from metacrm.composition import build_services
    from metacrm.jobs import worker_entry
    from metacrm.jobs.scheduler import start_background_scheduler

    services = build_services(settings)
    worker_entry.use_services(services)
    background = (start_background_scheduler(services, interval=interval)
                  if with_scheduler else None)
    try:
        _work(settings.redis_url, burst=burst, name=name, log_level=log_level)
    finally:
        if background is not None:
            thread, stop = background
            stop.set()
            thread.join(timeout=30)
        services.close()


def _work(redis_url: str, *, burst: bool, name: str | None, log_level: str) -> None:
    import redis
    from rq import Queue

    from metacrm.jobs.rq_queue import QUEUE_NAME, redis_connection
    from metacrm.jobs.rq_worker import MetacrmWorker

    log = logging.getLogger("metacrm.worker")
    rq_level = "DEBUG" if log_level.upper() == "DEBUG" else "WARNING"
    connection = redis_connection(redis_url)
    while True:
        rq_worker = MetacrmWorker([Queue(QUEUE_NAME, connection=connection)],
                                  connection=connection, name=name,
                                  log_job_description=False)
        try:
            rq_worker.work(burst=burst, logging_level=rq_level)
        except redis.exceptions.RedisError as exc:
            log.warning("Redis unavailable (%s); retrying in %.0f s", exc, RECONNECT_SECONDS)
        if burst or rq_worker.stop_requested:
            return
        time.sleep(RECONNECT_SECONDS)
        log.info("worker restarting")


@click.command()
@click.option("--interval", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Seconds between ticks.")
@click.option("--once", is_flag=True, help="Run one tick and quit.")
@click.option("--log-level", type=LOG_LEVELS, default="INFO", show_default=True)
@reports_errors
def scheduler(interval: float, once: bool, log_level: str) -> None:
    """Relay outbox events, hand due and orphaned work items to the queue, run periodic
    tasks (time and cron triggers, retention) — every INTERVAL seconds until stopped."""
    _configure_logging(log_level)
    from metacrm.composition import build_services
    from metacrm.jobs.scheduler import Scheduler

    services = build_services(Settings.from_env())
    try:
        loop = Scheduler(services, interval=interval)
        if once:
            report = loop.tick()
            click.echo(f"Relayed {report.relayed} event(s), handed {report.swept} work "
                       f"item(s) to the queue.")
            if report.failed_steps:
                raise click.ClickException(f"failed steps: {', '.join(report.failed_steps)}")
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        loop.run(stop)
    finally:
        services.close()
