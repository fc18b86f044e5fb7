"""Benchmark: a received email to the timeline (target: p95 ≤ 10 s; issue 15).

    python bench/email_inbound.py [--url URL] [--people 2000] [--messages 200]

Default database: a SQLite file in a temporary folder; with a PostgreSQL URL the benchmark
works in a private schema dropped at the end. The shipped packs (with `email`) are applied,
`--people` people with addresses are created, then `--messages` messages are stored through
`EmailIntake.receive` (what the IMAP poller and the inbound webhook call): a third replies
to a message sent from a deal (threaded by In-Reply-To), a third comes from a known contact
with a colleague in Cc, a third from unknown senders (each becomes a lead). Each is timed
from the raw bytes to the message being on the record's timeline (`TimelineService.page`
returns it); reported: median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

SECRET_KEY = "bench-" + "x" * 40  # a throw-away key of a scratch instance
METADATA = Path(__file__).resolve().parents[1] / "metadata"
CRM = "crm@ourco.example"


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is None or not url.startswith("postgresql"):
        with tempfile.TemporaryDirectory() as folder:
            yield url or f"sqlite:///{Path(folder) / 'email.db'}"
        return
    import sqlalchemy as sa

    schema = "bench_email"
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


def raw(sender: str, subject: str, *, cc: str | None = None,
        in_reply_to: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = CRM
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="bench.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content("text " * 50)
    return message.as_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()

    from metacrm.automation.subject import automation_subject
    from metacrm.composition import build_services
    from metacrm.email import record_token
    from metacrm.metadata.loader import read_documents
    from metacrm.settings import Settings

    with database(args.url) as url, tempfile.TemporaryDirectory() as scratch:
        settings = Settings(database_url=url, metadata_paths=(Path(scratch) / "packs",),
                            redis_url=None, instance_path=Path(scratch) / "instance",
                            secret_key=SECRET_KEY)
        services = build_services(settings)
        try:
            documents, errors = read_documents([METADATA])
            assert not errors, errors
            services.metadata.apply(documents, author="bench")
            records = services.records
            admin = automation_subject(records.runtime().model, "bench")
            company = records.create(admin, "company", {"name": "Acme"})["id"]
            for start in range(0, args.people, 1000):
                records.bulk_create(admin, "person", [
                    {"last_name": f"P{i}", "email": f"p{i}@acme.example", "company": company}
                    for i in range(start, min(args.people, start + 1000))])
            deal = records.create(admin, "deal", {"title": "Rollout", "company": company})["id"]
            mailbox = services.email.mailboxes.save("sales", {
                "address": CRM, "create_leads": True})
            sent = record_token.message_id(SECRET_KEY, "deal", deal, "ourco.example")
            times: list[float] = []
            for i in range(args.messages):
                kind = i % 3
                if kind == 0:
                    body, target = raw(f"p{i}@acme.example", f"Re {i}", in_reply_to=sent), (
                        "deal", deal)
                elif kind == 1:
                    body = raw(f"p{i}@acme.example", f"Hi {i}", cc="quinn@acme.example")
                    target = ("person", "")
                else:
                    body, target = raw(f"new{i}@stranger.example", f"New {i}"), ("lead", "")
                started = time.perf_counter()
                received = services.email.intake.receive(mailbox, body)
                regarding = received.regarding or {}
                page = services.timeline.page(admin, target[0], regarding["id"],
                                              kinds=["email_message"], limit=1)
                assert page.entries and page.entries[0].data["record"]["id"] == \
                    received.record_id, (target, page)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{args.messages} messages, {args.people} people: median "
                  f"{statistics.median(times):.1f} ms, p95 {p95:.1f} ms (target 10,000 ms)")
        finally:
            services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
