"""Benchmark: the job machinery from a committed change to its handled work item.

    python bench/automation.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                               [--events 2000] [--latency-events 500] [--rate 25]
                               [--workers 2] [--forking-events 40]
                               [--extension automation_probe]

Every scenario runs on a fresh database (a private PostgreSQL schema, or a SQLite file for a
`sqlite:` URL) with one entity `gizmo` and the consumer of `--extension` (default
bench/automation_probe.py: one work item per created record, handled by doing nothing). RQ
scenarios use a private redis-server and `--workers` `metacrm worker` processes (RQ's
non-forking SimpleWorker). Times come from the dispatch table: an item's event was written
at `event_created_at` (in the change's transaction, just before its commit), relayed at
`created_at` and finished at `done_at`.

1. RQ throughput: `--events` records created 50 per transaction (relayed after each commit)
   while no worker runs, then the workers started: items handled per second, from the first
   claim to the last item done.
2. RQ latency, relay after commit (the default): `--latency-events` records, one per
   transaction, paced at `--rate`/s: commit->handled p50/p95, outbox->queue lag p95, and
   the median time of the create call (the relay runs in it).
3. RQ latency, relay by `metacrm scheduler` only (every 1 s): the same, with the web
   process's after-commit relay switched off.
4. Inline (no Redis): `--events` records created one per transaction, each item run right
   after its commit in the creating thread: events/s and commit->handled p50/p95.

Scenario 1 is also run with RQ's forking `Worker` (`--forking-events` records), for the
comparison that made `metacrm worker` a non-forking SimpleWorker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.composition import Services, build_services
from metacrm.fieldtypes import default_registry
from metacrm.jobs.dispatcher import RelayListener
from metacrm.metadata.documents import Document
from metacrm.services.metadata_service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine
from metacrm.storage.system_tables import work_items

BENCH = Path(__file__).resolve().parent
PLATFORM = BENCH.parent / "platform"
METACRM = (sys.executable, "-c", "from metacrm.cli.main import main; main()")
LABEL = {"en": "Gizmo", "ru": "Штука"}
DOCUMENTS = [
    {"kind": "entity", "name": "gizmo", "version": 1, "label": LABEL,
     "fields": [{"name": "title", "type": "text", "label": LABEL, "required": True}]},
    {"kind": "role", "name": "boss", "version": 1, "label": LABEL, "admin": True},
]
ADMIN = AccessSubject(user_id="1", username="bench", roles=("boss",), is_admin=True)
DEADLINE = 600.0
SECRET_KEY = "bench-secret-key-long-enough-32b"  # noqa: S105 (a throw-away instance)


@contextmanager
def fresh_database(url: str, scratch: Path) -> Iterator[str]:
    """The URL of an empty database: a private schema (PostgreSQL) or a new SQLite file."""
    if url.startswith("sqlite"):
        yield f"sqlite:///{scratch / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    schema = f"bench_jobs_{uuid.uuid4().hex[:8]}"
    admin = create_database_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield (sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
               .render_as_string(hide_password=False))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def redis_server(scratch: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(scratch)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.kill()
        process.wait()


@dataclass
class Instance:
    """A metacrm instance: this process's Services plus worker/scheduler processes."""

    services: Services
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *command: str) -> None:
        self.processes.append(subprocess.Popen(  # noqa: S603
            [*METACRM, *command, "--log-level", "WARNING"], env=self.env))

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.services.close()


@contextmanager
def instance(database_url: str, scratch: Path, extension: str,
             redis_url: str | None) -> Iterator[Instance]:
    registry = default_registry()
    engine = create_database_engine(database_url)
    try:
        MetadataService(engine, registry).apply(
            [Document.from_body(body, source=f"{body['name']}.json", pack="bench")
             for body in DOCUMENTS], author="bench")
    finally:
        engine.dispose()
    settings = Settings(database_url=database_url, metadata_paths=(scratch / "packs",),
                        redis_url=redis_url, secret_key=SECRET_KEY,
                        instance_path=scratch / "instance", extensions=(extension,))
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(BENCH), str(PLATFORM)]),
           "METACRM_DATABASE_URL": database_url, "METACRM_REDIS_URL": redis_url or "",
           "METACRM_METADATA_PATH": str(scratch / "packs"),
           "METACRM_INSTANCE_PATH": str(scratch / "instance"),
           "METACRM_SECRET_KEY": settings.secret_key, "METACRM_EXTENSIONS": extension}
    running = Instance(build_services(settings), env)
    try:
        yield running
    finally:
        running.close()


def produce(services: Services, count: int, *, batch: int = 1,
            rate: float | None = None) -> list[float]:
    """Create `count` gizmos, `batch` per transaction, paced at `rate` transactions per
    second when given; returns each transaction's duration (commit + after-commit work)."""
    durations: list[float] = []
    start = time.perf_counter()
    for n in range(0, count, batch):
        if rate:
            time.sleep(max(0.0, start + n / batch / rate - time.perf_counter()))
        began = time.perf_counter()
        with services.records.transaction() as conn:
            for i in range(n, min(count, n + batch)):
                services.records.create_in(conn, ADMIN, "gizmo", {"title": f"gizmo {i}"})
        durations.append(time.perf_counter() - began)
    return durations


def wait_settled(engine: sa.Engine, expected: int) -> Sequence[Any]:
    """The work items once `expected` of them are done or failed."""
    end = time.monotonic() + DEADLINE
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(
                work_items.c.status, work_items.c.event_created_at, work_items.c.created_at,
                work_items.c.first_attempt_at, work_items.c.done_at)).all()
        if sum(row.status in ("done", "failed") for row in rows) >= expected:
            return rows
        if time.monotonic() > end:
            raise SystemExit(f"timed out: {len(rows)} items, expected {expected} settled")
        time.sleep(0.1)


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def describe(name: str, rows: Sequence[Any], *, drained: bool = False,
             durations: Sequence[float] = ()) -> None:
    """Print one scenario's figures. `drained`: the items waited for workers on purpose,
    so only the throughput (first claim to last done) means something."""
    failed = sum(row.status == "failed" for row in rows)
    first = min(row.first_attempt_at if drained else row.event_created_at for row in rows)
    span = seconds(max(row.done_at for row in rows), first)
    figures = [f"{len(rows)} items ({failed} failed)",
               f"{len(rows) / span:.1f} events/s "
               f"({'first claim' if drained else 'first commit'} to last done)"]
    if not drained:
        latency = [seconds(row.done_at, row.event_created_at) * 1000 for row in rows]
        relayed = [seconds(row.created_at, row.event_created_at) * 1000 for row in rows]
        claimed = [seconds(row.first_attempt_at, row.event_created_at) * 1000
                   for row in rows]
        figures += [f"commit->handled p50 {quantile(latency, 0.5):.1f} ms, "
                    f"p95 {quantile(latency, 0.95):.1f} ms",
                    f"outbox->work item p95 {quantile(relayed, 0.95):.1f} ms",
                    f"outbox->claimed by a worker p95 {quantile(claimed, 0.95):.1f} ms"]
    if durations:
        figures.append(f"create call median {statistics.median(durations) * 1000:.2f} ms")
    print(f"{name}: " + "; ".join(figures), flush=True)


def wait_for_workers(redis_url: str, count: int) -> None:
    from rq import Worker

    client = redis.Redis.from_url(redis_url)
    try:
        end = time.monotonic() + 60
        while len(Worker.all(connection=client)) < count:
            if time.monotonic() > end:
                raise SystemExit("workers did not start")
            time.sleep(0.1)
    finally:
        client.close()


def rq_throughput(args: argparse.Namespace, url: str, scratch: Path) -> None:
    with redis_server(scratch) as redis_url, fresh_database(url, scratch) as db, \
            instance(db, scratch, args.extension, redis_url) as running:
        produce(running.services, args.events, batch=50)
        for _ in range(args.workers):
            running.start("worker")
        rows = wait_settled(running.services.engine, args.events)
        describe(f"RQ, {args.workers} SimpleWorkers, queue drained", rows, drained=True)


def rq_forking(args: argparse.Namespace, url: str, scratch: Path) -> None:
    """The same drain with RQ's default forking `Worker` (`rq worker`): each job runs in a
    fresh child that builds the Services again — why `metacrm worker` does not fork."""
    with redis_server(scratch) as redis_url, fresh_database(url, scratch) as db, \
            instance(db, scratch, args.extension, redis_url) as running:
        produce(running.services, args.forking_events, batch=50)
        for _ in range(args.workers):
            running.processes.append(subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "rq.cli", "worker", "--url", redis_url,
                 "--worker-class", "rq.worker.Worker", "--quiet", "metacrm"],
                env=running.env))
        rows = wait_settled(running.services.engine, args.forking_events)
        describe(f"RQ, {args.workers} forking Workers (rq worker), queue drained", rows,
                 drained=True)


def rq_latency(args: argparse.Namespace, url: str, scratch: Path, *,
               relay_after_commit: bool) -> None:
    with redis_server(scratch) as redis_url, fresh_database(url, scratch) as db, \
            instance(db, scratch, args.extension, redis_url) as running:
        for _ in range(args.workers):
            running.start("worker")
        if not relay_after_commit:
            listeners = running.services.records.listeners
            listeners[:] = [item for item in listeners
                            if not isinstance(item, RelayListener)]
            running.start("scheduler", "--interval", "1")
        wait_for_workers(redis_url, args.workers)
        durations = produce(running.services, args.latency_events, rate=args.rate)
        rows = wait_settled(running.services.engine, args.latency_events)
        how = "relay after commit" if relay_after_commit else "relay by scheduler (1 s)"
        describe(f"RQ, {args.workers} SimpleWorkers, {args.rate:g}/s, {how}", rows,
                 durations=durations)


def inline(args: argparse.Namespace, url: str, scratch: Path) -> None:
    with fresh_database(url, scratch) as db, \
            instance(db, scratch, args.extension, None) as running:
        durations = produce(running.services, args.events)
        rows = wait_settled(running.services.engine, args.events)
        describe("inline, one creating thread", rows, durations=durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--latency-events", type=int, default=500)
    parser.add_argument("--forking-events", type=int, default=40)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--extension", default="automation_probe")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    with tempfile.TemporaryDirectory(prefix="metacrm-bench-jobs-") as scratch_dir:
        scratch = Path(scratch_dir)
        print(f"database: {sa.make_url(args.url).get_backend_name()}, extension "
              f"{args.extension}", flush=True)
        rq_throughput(args, args.url, scratch)
        rq_forking(args, args.url, scratch)
        rq_latency(args, args.url, scratch, relay_after_commit=True)
        rq_latency(args, args.url, scratch, relay_after_commit=False)
        inline(args, args.url, scratch)


if __name__ == "__main__":
    main()
