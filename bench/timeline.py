"""Benchmark: a page of a record's timeline at 10,000 items (target: ≤ 100 ms a page).

    python bench/timeline.py [--url URL] [--items 10000] [--repeat 50]

Default database: a SQLite file in a temporary folder; with a PostgreSQL URL the benchmark
works in a private schema dropped at the end. One company gets `--items` timeline items:
40 % notes about it, 30 % calls about its 20 people (rolled up to the company's timeline),
30 % audited changes of the company itself. Measured through `TimelineService.page` (the
API's and the record page's service), as an admin and as a user whose role reads only
their own notes and calls (the scope is ANDed into every query): the first page of 25, a
page deep in the timeline (resumed from a cursor), a page filtered to calls. Reported:
median and 95th percentile of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LABEL = {"en": "Thing", "ru": "Штука"}
SECRET_KEY = "bench-" + "x" * 40  # a throw-away key of a scratch instance


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": LABEL, **options}


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": LABEL,
            "fields": list(fields), **extra}


ABOUT = field("regarding", "regarding", entities=["person", "company"])
DOCUMENTS = [
    entity("company", field("name", required=True), field("rating", "integer"),
           title_field="name"),
    entity("person", field("name", required=True),
           field("company", "reference", entity="company", on_delete="set_null")),
    entity("note", field("subject"), field("body", "textarea"), ABOUT,
           indexes=[{"name": "note_timeline", "fields": ["regarding", "created_at"]}]),
    entity("call", field("subject"), field("duration", "integer"), ABOUT,
           indexes=[{"name": "call_timeline", "fields": ["regarding", "created_at"]}]),
    {"kind": "role", "name": "boss", "version": 1, "label": LABEL, "admin": True},
    {"kind": "role", "name": "rep", "version": 1, "label": LABEL, "entities": {
        "company": {"read": "all", "update": "all"}, "person": {"read": "all"},
        "note": {"read": "own", "create": "all"}, "call": {"read": "own", "create": "all"}}},
]


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is None or not url.startswith("postgresql"):
        with tempfile.TemporaryDirectory() as folder:
            yield url or f"sqlite:///{Path(folder) / 'timeline.db'}"
        return
    import sqlalchemy as sa

    schema = "bench_timeline"
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


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    from metacrm.composition import build_services
    from metacrm.identity.actor import Actor
    from metacrm.metadata.documents import Document
    from metacrm.services.timeline.service import FEATURE, TimelineService
    from metacrm.settings import Settings

    with database(args.url) as url, tempfile.TemporaryDirectory() as scratch:
        settings = Settings(database_url=url, metadata_paths=(Path(scratch) / "packs",),
                            redis_url=None, instance_path=Path(scratch) / "instance",
                            secret_key=SECRET_KEY)
        services = build_services(settings)
        try:
            services.metadata.apply([Document.from_body(b, source=f"{b['name']}.json",
                                                        pack="bench") for b in DOCUMENTS],
                                    author="bench")
            records = services.records
            admin = records.subject_for(Actor("1", "boss", ("boss",), True))
            rep = records.subject_for(Actor("2", "rep", ("rep",), False))
            started = time.perf_counter()
            company = records.create(admin, "company", {"name": "Acme"})["id"]
            people = [p["id"] for p in records.bulk_create(admin, "person", [
                {"name": f"P{i}", "company": company} for i in range(20)])]
            notes, calls = int(args.items * 0.4), int(args.items * 0.3)
            changes = args.items - notes - calls - 1
            for start in range(0, notes, 1000):
                records.bulk_create(admin, "note", [
                    {"subject": f"note {i}", "body": "text " * 20, "owner": "2" if i % 2 else "1",
                     "regarding": {"entity": "company", "id": company}}
                    for i in range(start, min(notes, start + 1000))])
            for start in range(0, calls, 1000):
                records.bulk_create(admin, "call", [
                    {"subject": f"call {i}", "duration": i % 60, "owner": "2" if i % 3 else "1",
                     "regarding": {"entity": "person", "id": people[i % len(people)]}}
                    for i in range(start, min(calls, start + 1000))])
            for i in range(changes):
                records.update(admin, "company", company, {"rating": i})
            print(f"filled {args.items} items in {time.perf_counter() - started:.1f} s "
                  f"({url.split(':')[0]})")
            timeline = services.feature(FEATURE, TimelineService)
            for name, subject in (("admin", admin), ("own-scope user", rep)):
                first = timeline.page(subject, "company", company)
                assert len(first.entries) == 25 and first.next_cursor
                deep = first
                for _ in range(40):  # a page about 1,000 items down
                    if deep.next_cursor is None:
                        break
                    deep = timeline.page(subject, "company", company, cursor=deep.next_cursor)
                cursor = deep.next_cursor
                rows = [
                    ("first page of 25", lambda s=subject: timeline.page(s, "company", company)),
                    ("page ~1,000 items down", lambda s=subject, c=cursor: timeline.page(
                        s, "company", company, cursor=c)),
                    ("first page, calls only", lambda s=subject: timeline.page(
                        s, "company", company, kinds=["call"])),
                ]
                for label, run in rows:
                    median, p95 = timed(run, args.repeat)
                    print(f"{name:15} {label:24} median {median:7.2f} ms   p95 {p95:7.2f} ms")
        finally:
            services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
