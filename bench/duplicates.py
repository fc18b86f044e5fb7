"""Benchmark: duplicate checks on save, and a full duplicate scan, at N persons.

    python bench/duplicates.py --persons 1000000 --url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/duplicates.py --persons 20000                 # SQLite file, reduced

Builds the contacts-like model (person: email with a block rule, phone with a warn rule;
company: name, fuzzy on PostgreSQL) in a scratch database (a schema of its own on
PostgreSQL, dropped at the end), fills N persons and N/10 companies straight into the
tables with their match keys computed by the same normalisers the codec uses (1 % of the
persons share a phone with an earlier one, so the scan has groups to find), then measures:

* a save through `RecordsService.create` of a new person (both rules checked, no match);
* `DuplicateChecker.find` alone for raw values that match (an importer's per-row call);
* a blocked save (409) and a company save with the fuzzy rule;
* `DuplicateReview.scan` of all persons.

The fill ends as an import does: the trigram indexes' pending lists are flushed
(`storage.trigram_upkeep`) — `--keep-pending` leaves them full, as a bulk write without the
flush would (every fuzzy check then scans them whole).

Targets (issue 14): p95 of a check on save <= 50 ms at 1M persons; a full scan <= 10 min.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metacrm.access.teams import TeamDirectory
from metacrm.fieldtypes import default_registry
from metacrm.fieldtypes.match_keys import match_key
from metacrm.kernel.errors import DuplicateFound
from metacrm.kernel.ids import new_id
from metacrm.metadata.documents import Document
from metacrm.services.duplicates.review import DuplicateReview
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.service import RecordsService
from metacrm.storage.engine import create_database_engine
from metacrm.storage.trigram_upkeep import flush_trigram_indexes

LABEL = {"en": "x", "ru": "x"}
BATCH = 10_000


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


BODIES: list[dict[str, Any]] = [
    {"kind": "entity", "name": "person", "version": 1, "label": LABEL, "plural_label": LABEL,
     "title": "{first_name} {last_name}",
     "fields": [field("first_name", "text"), field("last_name", "text", required=True),
                field("email", "email"), field("phone", "phone", default_region="US")]},
    {"kind": "entity", "name": "company", "version": 1, "label": LABEL, "plural_label": LABEL,
     "fields": [field("name", "text", required=True)]},
    {"kind": "duplicate_rule", "name": "person_by_email", "version": 1, "label": LABEL,
     "entity": "person", "action": "block",
     "conditions": [{"field": "email", "normalise": ["email"]}]},
    {"kind": "duplicate_rule", "name": "person_by_phone", "version": 1, "label": LABEL,
     "entity": "person", "action": "warn",
     "conditions": [{"field": "phone", "normalise": ["phone"]}]},
    {"kind": "duplicate_rule", "name": "company_by_name", "version": 1, "label": LABEL,
     "entity": "company", "action": "warn",
     "conditions": [{"field": "name", "normalise": ["legal_form", "transliterate"],
                     "match": "fuzzy", "threshold": 0.6}]},
    {"kind": "role", "name": "admin", "version": 1, "label": LABEL, "admin": True},
]
WORDS = ("acme", "globex", "initech", "umbrella", "stark", "wayne", "wonka", "tyrell",
         "cyberdyne", "soylent", "hooli", "vandelay", "massive", "dynamic", "oceanic")


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    roles: tuple[str, ...]
    is_admin: bool = True


@contextmanager
def scratch(url: str | None) -> Iterator[sa.Engine]:
    if url is None or not url.startswith("postgresql"):
        with tempfile.TemporaryDirectory() as folder:
            engine = create_database_engine(url or f"sqlite:///{Path(folder) / 'bench.db'}")
            yield engine
            engine.dispose()
        return
    schema = f"bench_dupes_{uuid.uuid4().hex[:8]}"
    admin = create_database_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = create_database_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


AREAS = (212, 305, 310, 312, 415, 617, 646, 702, 718, 917)
EXCHANGES = tuple(e for e in range(220, 990) if e % 100 != 11 and e != 555)


def phone_of(n: int) -> str:
    """A distinct valid US number per n (up to tens of millions)."""
    area = AREAS[n % len(AREAS)]
    exchange = EXCHANGES[(n // len(AREAS)) // 10_000 % len(EXCHANGES)]
    return f"+1{area}{exchange}{(n // len(AREAS)) % 10_000:04d}"


def company_name(n: int) -> str:
    return f"{WORDS[n % len(WORDS)]} {WORDS[(n // 15) % len(WORDS)]} {n} LLC"


def fill(engine: sa.Engine, metadata: MetadataService, persons: int, flush: bool = True
         ) -> float:
    """N persons (1 % sharing an earlier one's phone) and N/10 companies, keys included."""
    live = metadata.live()
    started = time.perf_counter()
    now = datetime.now(UTC)
    for entity, count, values in (("person", persons, _person), ("company",
                                                                 max(persons // 10, 1),
                                                                 _company)):
        table = live.tables[entity]
        keys = live.model.entities[entity].match_keys
        with engine.begin() as conn:
            rows: list[dict[str, Any]] = []
            for n in range(count):
                row = {"id": new_id(), "created_at": now, "updated_at": now, "version": 1,
                       "owner": "admin", **values(n)}
                for key in keys:
                    row[key.column] = match_key(row[key.field], key.normalisers,
                                                region="US")
                rows.append(row)
                if len(rows) == BATCH:
                    conn.execute(table.insert(), rows)
                    rows = []
            if rows:
                conn.execute(table.insert(), rows)
    with engine.begin() as conn:
        if flush:
            for entity in ("person", "company"):
                flush_trigram_indexes(conn, live.model.entities[entity])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _person(n: int) -> dict[str, Any]:
    return {"first_name": f"First{n}", "last_name": f"Last{n}",
            "email": f"person{n}@example.com",
            "phone": phone_of(n - 50 if n % 100 == 99 else n)}


def _company(n: int) -> dict[str, Any]:
    return {"name": company_name(n)}


def timings(call: Callable[[int], Any], count: int) -> tuple[float, float]:
    """(median, p95) in milliseconds of `count` calls."""
    spent = []
    for n in range(count):
        started = time.perf_counter()
        call(n)
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="database URL (default: a SQLite file)")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--keep-pending", action="store_true",
                        help="leave the trigram indexes' pending lists after the fill")
    args = parser.parse_args()
    with scratch(args.url) as engine:
        registry = default_registry()
        metadata = MetadataService(engine, registry)
        metadata.initialize()
        metadata.apply([Document.from_body(b, source=f"{b['name']}.json", pack="bench")
                        for b in BODIES], author="bench")
        teams = TeamDirectory(engine)
        teams.initialize()
        records = RecordsService(engine, metadata, registry, teams)
        admin = records.subject_for(Actor("admin", "admin", ("admin",)))
        seconds = fill(engine, metadata, args.persons, flush=not args.keep_pending)
        print(f"{engine.dialect.name}: {args.persons:,} persons and "
              f"{max(args.persons // 10, 1):,} companies filled in {seconds:.1f} s")

        base = args.persons + 1_000_000

        def save(n: int) -> None:
            records.create(admin, "person", {"last_name": f"New{n}",
                                             "email": f"new{n}@example.com",
                                             "phone": phone_of(base + n)})

        def find(n: int) -> None:
            with engine.connect() as conn:
                check = records.duplicates.find(conn, admin, "person", {
                    "email": f"PERSON{n * 37 % args.persons}@example.com",
                    "phone": phone_of(n * 37 % args.persons)})
            assert check.matches

        def blocked(n: int) -> None:
            try:
                records.create(admin, "person", {"last_name": "Dup",
                                                 "email": f"person{n}@example.com"})
            except DuplicateFound:
                return
            raise AssertionError("a duplicate email was saved")

        def company(n: int) -> None:
            records.create(admin, "company", {"name": company_name(n) + " Inc"})

        for label, call in (("save of a new person (2 rules, no match)", save),
                            ("find() for matching raw values", find),
                            ("blocked save (409)", blocked),
                            ("company save, fuzzy name rule", company)):
            median, p95 = timings(call, args.saves)
            print(f"  {label:<42} median {median:7.2f} ms   p95 {p95:7.2f} ms")

        started = time.perf_counter()
        groups = DuplicateReview(records).scan(admin, "person", limit=10_000_000)
        print(f"  full scan of persons: {len(groups):,} groups in "
              f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
