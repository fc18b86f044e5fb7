"""Benchmark: mass-mailing throughput (mails per hour) through a local SMTP sink.

    python bench/mailings.py [--url URL] [--people 2000]

Default database: a SQLite file in a temporary folder; with a PostgreSQL URL the benchmark
works in a private schema dropped at the end. The shipped packs are applied, `--people`
persons with granted consent are written, a dynamic segment selects them, and a mailing
with open and click tracking is sent through the `mailings.send` consumer (the inline
queue: the same code an RQ worker runs) to an SMTP server on loopback (aiosmtpd) that
accepts and drops every message. Timed from "send now" to the mailing being `sent`;
every recipient is checked at send time for consent, claimed, rendered, sent and marked.
The mailbox has no rate limit. One worker, one SMTP connection per batch of 100.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SECRET_KEY = "bench-" + "x" * 40  # a throw-away key of a scratch instance
METADATA = Path(__file__).resolve().parents[1] / "metadata"


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is None or not url.startswith("postgresql"):
        with tempfile.TemporaryDirectory() as folder:
            yield url or f"sqlite:///{Path(folder) / 'mailings.db'}"
        return
    import sqlalchemy as sa

    schema = "bench_mailings"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


class Sink:
    """An aiosmtpd handler that counts and drops messages."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--people", type=int, default=2000)
    args = parser.parse_args()

    import socket

    from aiosmtpd.controller import Controller

    from metacrm.automation.subject import automation_subject
    from metacrm.composition import build_services
    from metacrm.metadata.loader import read_documents
    from metacrm.settings import Settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    with database(args.url) as url, tempfile.TemporaryDirectory() as scratch:
        settings = Settings(database_url=url, metadata_paths=(Path(scratch) / "packs",),
                            redis_url=None, instance_path=Path(scratch) / "instance",
                            secret_key=SECRET_KEY, public_url="https://crm.bench.example")
        services = build_services(settings)
        try:
            documents, errors = read_documents([METADATA])
            assert not errors, errors
            services.metadata.apply(documents, author="bench")
            records = services.records
            admin = automation_subject(records.runtime().model, "bench")
            # the bench has no sign-in users: the mailing's owner acts as the admin
            services.mailings.sender.subject_of = lambda _user_id: admin
            system = records.runtime().system
            now = services.clock().isoformat()
            with records.transaction() as conn:
                people = system.insert_many(conn, "person", [
                    {"first_name": f"P{i}", "last_name": "Bench", "job_title": "bench",
                     "email": f"p{i}@bench.example"} for i in range(args.people)],
                    trusted=True)
                system.insert_many(conn, "consent", [
                    {"email": p["email"], "purpose": "marketing", "status": "granted",
                     "source": "manual", "granted_at": now, "person": p["id"]}
                    for p in people], trusted=True)
            services.email.mailboxes.save("news", {"address": "news@bench.example",
                                                   "smtp_url": f"smtp://127.0.0.1:{port}"})
            segment = records.create(admin, "segment", {
                "name": "Bench", "entity": "person", "segment_type": "dynamic",
                "criteria": {"field": "job_title", "op": "eq", "value": "bench"}})["id"]
            mailing = records.create(admin, "mailing", {
                "name": "Bench", "segment": segment, "mailbox": "news",
                "subject": "Hello {{ record.first_name }}",
                "body": "Dear {{ name }},\n\nSee https://shop.example/sale\n",
                "track_opens": True, "track_clicks": True})["id"]
            started = time.perf_counter()
            services.mailings.schedule(admin, mailing)
            while services.mailings.get(admin, mailing)["status"] == "sending":
                services.dispatcher.sweep_once()
                services.dispatcher.kick()
            elapsed = time.perf_counter() - started
            progress = services.mailings.progress(admin, mailing)
            assert progress["sent_count"] == sink.count == args.people, (progress, sink.count)
            print(f"{args.people} recipients in {elapsed:.1f} s: "
                  f"{args.people / elapsed * 3600:,.0f} mails/hour "
                  f"({elapsed / args.people * 1000:.1f} ms per recipient)")
        finally:
            services.close()
            smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
