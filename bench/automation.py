"""Benchmark: webhook deliveries from a committed change to a VERIFIED receipt.

    python bench/automation.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                               [--workers 2] [--rate 120 250] [--seconds 12] [--batch 10]
                               [--drain-events 3000] [--inline-events 600]
                               [--forking-events 0]

Every scenario runs on a fresh database (a private PostgreSQL schema, or a SQLite file for a
`sqlite:` URL) with one entity `gizmo`, one admin user (`bench`) and ONE webhook
subscription of that user to `record.created` on `gizmo`, pointing at a loopback receiver.
The receiver is a separate process (a `ThreadingHTTPServer`, HTTP/1.1 keep-alive) that
checks EVERY request with `standardwebhooks.Webhook(secret).verify(body, headers)` and
notes the wall-clock time of each verified receipt by `webhook-id` (= the outbox event id).
RQ scenarios use a private redis-server and `--workers` `metacrm worker` processes (RQ's
non-forking SimpleWorker); the inline scenario has no Redis: the creating thread delivers
each webhook right after its commit.

Times, all from this machine's wall clock:

* commit: the outbox event's `created_at`, written in the change's transaction just before
  its commit (so "commit -> receipt" includes the commit itself);
* relayed: the work item's `created_at` (the relay runs in the same transaction; the item
  goes to Redis right after the commit);
* claimed: the work item's `first_attempt_at` — a worker took it off the queue and claimed
  it in the database. **outbox -> queue lag = claimed - commit**: everything between the
  event's creation and a worker starting on it (relay, commit, Redis, waiting in the queue);
* received: the receiver verified the signature.

Scenarios:

1. RQ steady, once per `--rate`: that many events/s offered for `--seconds`, `--batch`
   creates per transaction, paced; events/s sustained = events / (last receipt - first
   commit). A rate above what the workers manage shows as growing latency and lag.
2. RQ drain: `--drain-events` events committed (100 per transaction) while the running
   workers are suspended (`rq suspend`), then the workers resumed; events/s = events /
   (last receipt - first claim). The workers' own throughput, with the CPU not shared
   with the producer.
3. Inline (no Redis): `--inline-events` events, one create per transaction, one thread;
   each create call delivers its webhook before it returns.
4. Optional (`--forking-events N`): a drain with RQ's forking `Worker` (`rq worker`).

Every delivery must arrive and verify, or the run fails.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
PLATFORM = BENCH.parent / "platform"
METACRM = (sys.executable, "-c", "from metacrm.cli.main import main; main()")
LABEL = {"en": "Gizmo", "ru": "Штука"}
DOCUMENTS = [
    {"kind": "entity", "name": "gizmo", "version": 1, "label": LABEL,
     "fields": [{"name": "title", "type": "text", "label": LABEL, "required": True}]},
    {"kind": "role", "name": "boss", "version": 1, "label": LABEL, "admin": True},
]
DEADLINE = 300.0
SECRET_KEY = "bench-secret-key-long-enough-32b"  # noqa: S105 (a throw-away instance)
PASSWORD = "bench-password-1234"  # noqa: S105 (a throw-away user)


# --- the receiver (a process of its own, so it does not share the producer's GIL) ---------

def _serve(secret: str, pipe: Connection) -> None:
    """Receiver process: answer 200 to every POST, verify each one, and send the receipts
    (webhook-id, wall time, verified) down `pipe` when asked to stop."""
    import threading

    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    verifier = Webhook(secret)
    receipts: list[tuple[str, float, bool]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a sender may reuse its connection
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            received = time.time()
            with lock:
                receipts.append((headers.get("webhook-id", ""), received, verified))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipe.send(server.server_address[1])
    while True:
        command = pipe.recv()
        with lock:
            snapshot = list(receipts)
        if command == "count":
            pipe.send(len(snapshot))
        else:
            pipe.send(snapshot)
            server.shutdown()
            return


class Receiver:
    def __init__(self, secret: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(secret, child), daemon=True)
        self._process.start()
        self.port: int = self._pipe.recv()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._receipts: list[tuple[str, float, bool]] | None = None

    def count(self) -> int:
        self._pipe.send("count")
        found: int = self._pipe.recv()
        return found

    def stop(self) -> list[tuple[str, float, bool]]:
        """Every receipt (stops the receiver on the first call)."""
        if self._receipts is None:
            self._pipe.send("stop")
            self._receipts = self._pipe.recv()
            self._process.join(timeout=10)
        return self._receipts


# --- the instance -------------------------------------------------------------------------

@contextmanager
def fresh_database(url: str, scratch: Path) -> Iterator[str]:
    """The URL of an empty database: a private schema (PostgreSQL) or a new SQLite file."""
    from metacrm.storage.engine import create_database_engine

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
    """A metacrm instance: this process's Services, the subscription's receiver, and
    worker processes."""

    services: Any
    env: dict[str, str]
    subject: Any
    receiver: Receiver
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self.processes.append(subprocess.Popen(  # noqa: S603
                [*METACRM, "worker", "--log-level", "WARNING"], env=self.env))

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
def instance(database_url: str, scratch: Path, redis_url: str | None) -> Iterator[Instance]:
    from metacrm.cli.users import add_user
    from metacrm.composition import build_services
    from metacrm.fieldtypes import default_registry
    from metacrm.metadata.documents import Document
    from metacrm.services.metadata.service import MetadataService
    from metacrm.settings import Settings
    from metacrm.storage.engine import create_database_engine
    from metacrm.webhooks.service import WebhookService
    from metacrm.webhooks.signing import new_secret

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
                        instance_path=scratch / "instance", webhook_allow_private=True)
    user = add_user(settings, username="bench", role="boss", password=PASSWORD)
    env = {**os.environ,
           "PYTHONPATH": str(PLATFORM),
           "METACRM_DATABASE_URL": database_url, "METACRM_REDIS_URL": redis_url or "",
           "METACRM_METADATA_PATH": str(scratch / "packs"),
           "METACRM_INSTANCE_PATH": str(scratch / "instance"),
           "METACRM_SECRET_KEY": SECRET_KEY, "METACRM_WEBHOOK_ALLOW_PRIVATE": "true"}
    secret = new_secret()
    receiver = Receiver(secret)
    services = build_services(settings)
    subject = services.subjects.subject_of(str(user.id))
    assert subject is not None
    services.feature("webhooks", WebhookService).create(subject, {
        "url": receiver.url, "events": ["record.created"], "entity": "gizmo",
        "secret": secret})
    running = Instance(services, env, subject, receiver)
    try:
        yield running
    finally:
        running.close()
        receiver.stop()


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


# --- producing and measuring --------------------------------------------------------------

def produce(running: Instance, count: int, *, batch: int, rate: float | None = None
            ) -> list[float]:
    """Create `count` gizmos, `batch` per transaction, paced at `rate` events/s when given;
    returns each transaction's duration (commit and after-commit work included)."""
    records = running.services.records
    durations: list[float] = []
    start = time.perf_counter()
    for n in range(0, count, batch):
        if rate:
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
        began = time.perf_counter()
        with records.transaction() as conn:
            for i in range(n, min(count, n + batch)):
                records.create_in(conn, running.subject, "gizmo", {"title": f"gizmo {i}"})
        durations.append(time.perf_counter() - began)
    return durations


def wait_received(running: Instance, expected: int) -> None:
    end = time.monotonic() + DEADLINE
    while running.receiver.count() < expected:
        if time.monotonic() > end:
            raise SystemExit(f"timed out: {running.receiver.count()} of {expected} received")
        time.sleep(0.05)


@dataclass(frozen=True)
class Figures:
    scenario: str
    events: int
    per_second: float
    latency_p50: float
    latency_p95: float
    relay_p95: float
    claim_p95: float
    call_median: float | None


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(running: Instance, scenario: str, expected: int,
            durations: Sequence[float] = (), *, drained: bool = False) -> Figures:
    """Collect the receipts and the dispatch rows; every event must have been received,
    each with a valid signature. `drained`: the events waited for the workers on purpose,
    so events/s counts from the first claim and the latencies mean little."""
    from metacrm.storage.system_tables import outbox, work_items

    wait_received(running, expected)
    receipts = running.receiver.stop()
    bad = [r for r in receipts if not r[2]]
    if bad:
        raise SystemExit(f"{scenario}: {len(bad)} deliveries failed verification")
    received: dict[str, float] = {}
    for webhook_id, at, _ok in receipts:
        received.setdefault(webhook_id, at)
    with running.services.engine.connect() as conn:
        events = dict(conn.execute(sa.select(outbox.c.id, outbox.c.created_at)).all())
        rows = conn.execute(sa.select(
            work_items.c.event_id, work_items.c.created_at,
            work_items.c.first_attempt_at)).all()
    if set(received) != set(events) or len(events) != expected:
        raise SystemExit(f"{scenario}: {len(events)} events, {len(received)} received")

    def wall(moment: datetime) -> float:
        return moment.timestamp()

    latency = [(received[e] - wall(events[e])) * 1000 for e in events]
    relay = [(wall(r.created_at) - wall(events[r.event_id])) * 1000 for r in rows]
    claim = [(wall(r.first_attempt_at) - wall(events[r.event_id])) * 1000 for r in rows]
    first = (min(wall(r.first_attempt_at) for r in rows) if drained
             else min(wall(t) for t in events.values()))
    span = max(received.values()) - first
    return Figures(scenario, expected, expected / span, quantile(latency, 0.5),
                   quantile(latency, 0.95), quantile(relay, 0.95), quantile(claim, 0.95),
                   sorted(durations)[len(durations) // 2] * 1000 if durations else None)


def rq_steady(args: argparse.Namespace, scratch: Path, rate: float) -> Figures:
    count = round(rate * args.seconds)
    with redis_server(scratch) as redis_url, fresh_database(args.url, scratch) as db, \
            instance(db, scratch, redis_url) as running:
        running.start_workers(args.workers)
        wait_for_workers(redis_url, args.workers)
        durations = produce(running, count, batch=args.batch, rate=rate)
        return measure(running, f"RQ, {args.workers} SimpleWorkers, {rate:g} events/s "
                       f"offered ({args.batch} per transaction) for {args.seconds:g} s",
                       count, durations)


def rq_drain(args: argparse.Namespace, scratch: Path, *, forking: bool = False) -> Figures:
    """`count` events committed while the workers are suspended (`rq suspend`), then the
    workers resumed: events/s from the first claim to the last verified receipt."""
    from rq.suspension import resume, suspend

    count = args.forking_events if forking else args.drain_events
    with redis_server(scratch) as redis_url, fresh_database(args.url, scratch) as db, \
            instance(db, scratch, redis_url) as running:
        if forking:
            for _ in range(args.workers):
                running.processes.append(subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "rq.cli", "worker", "--url", redis_url,
                     "--worker-class", "rq.worker.Worker", "--quiet", "metacrm"],
                    env=running.env))
        else:
            running.start_workers(args.workers)
        wait_for_workers(redis_url, args.workers)
        client = redis.Redis.from_url(redis_url)
        suspend(client)
        produce(running, count, batch=100)
        resume(client)
        client.close()
        kind = "forking Workers (rq worker)" if forking else "SimpleWorkers"
        return measure(running, f"RQ, {args.workers} {kind}, drain: {count} events "
                       "committed, then the workers resumed", count, drained=True)


def inline(args: argparse.Namespace, scratch: Path) -> Figures:
    with fresh_database(args.url, scratch) as db, instance(db, scratch, None) as running:
        durations = produce(running, args.inline_events, batch=1)
        return measure(running, f"inline (no Redis), {args.inline_events} events, one "
                       "creating thread, one per transaction", args.inline_events, durations)


def table(results: Sequence[Figures]) -> str:
    lines = ["| scenario | events | events/s | commit → verified receipt p50 / p95 | "
             "outbox → queue lag p95 (claimed) | relay p95 | create call median |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for f in results:
        call = "—" if f.call_median is None else f"{f.call_median:.1f} ms"
        lines.append(f"| {f.scenario} | {f.events} | {f.per_second:.1f} | "
                     f"{f.latency_p50:.0f} / {f.latency_p95:.0f} ms | {f.claim_p95:.0f} ms | "
                     f"{f.relay_p95:.1f} ms | {call} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, nargs="+", default=[120.0, 250.0],
                        help="offered events/s of the steady runs (one run each)")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--drain-events", type=int, default=3000)
    parser.add_argument("--inline-events", type=int, default=600)
    parser.add_argument("--forking-events", type=int, default=0)
    parser.add_argument("--only", choices=["steady", "drain", "inline"], default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(PLATFORM))
    import logging

    logging.getLogger("flask_appbuilder").setLevel(logging.ERROR)
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="metacrm-bench-jobs-") as scratch_dir:
        scratch = Path(scratch_dir)
        print(f"database: {sa.make_url(args.url).get_backend_name()}; "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
        if args.only in (None, "steady"):
            for rate in args.rate:
                results.append(rq_steady(args, scratch, rate))
                print(f"  {table(results[-1:]).splitlines()[-1]}", flush=True)
        if args.only in (None, "drain"):
            results.append(rq_drain(args, scratch))
            print(f"  {table(results[-1:]).splitlines()[-1]}", flush=True)
        if args.only in (None, "inline"):
            results.append(inline(args, scratch))
        if args.forking_events:
            results.append(rq_drain(args, scratch, forking=True))
    print(table(results))


if __name__ == "__main__":
    main()
