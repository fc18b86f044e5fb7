"""Benchmark: global search (`GET /api/v1/search`'s service) at N records.

    python bench/search.py --records 1000000 --url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/search.py --records 20000                     # SQLite file, reduced
    # keep the filled schema (--keep) and time searches on it again (--schema NAME),
    # rebuilding its search index first after a change of the index (--reindex):
    python bench/search.py --url postgresql+psycopg://... --schema bench_search_1m [--reindex]

Builds a contacts-like model in a scratch database (a schema of its own on PostgreSQL,
dropped at the end): person (first name, last name, e-mail — English and Russian names)
and company (name), both searched; fills 80 % persons and 20 % companies straight into
the tables, then builds the search index over them (`metacrm search reindex`'s code, as a
pack installed on existing rows would) and times `GlobalSearch.search` with the metadata
version pinned, as a web request pins it — both entities, the admin and a rep who reads
only their own records (the scope in the same SQL) — for a mix of queries: a common word
(thousands of matches to rank), a prefix of one, a rare full name, a Russian inflected
form, a misspelling (the typo pass), and two words.

Target (issue 11): p95 <= 100 ms at 1,000,000 records on PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from duplicates import scratch as _scratch
from metacrm.access.teams import TeamDirectory
from metacrm.fieldtypes import default_registry
from metacrm.kernel.ids import new_id
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.global_search import GlobalSearch
from metacrm.services.records.service import RecordsService
from metacrm.services.records.titles import PlainTitles
from metacrm.storage.engine import create_database_engine
from metacrm.storage.migration.search import reindex
from metacrm.storage.search_index import search_index_for

LABEL = {"en": "x", "ru": "x"}
BATCH = 10_000
OWNERS = 200


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


BODIES: list[dict[str, Any]] = [
    {"kind": "entity", "name": "person", "version": 1, "label": LABEL, "plural_label": LABEL,
     "title": "{first_name} {last_name}",
     "search_fields": ["last_name", "first_name", "email"],
     "fields": [field("first_name", "text"), field("last_name", "text", required=True),
                field("email", "email")]},
    {"kind": "entity", "name": "company", "version": 1, "label": LABEL, "plural_label": LABEL,
     "search_fields": ["name"], "fields": [field("name", "text", required=True)]},
    {"kind": "role", "name": "admin", "version": 1, "label": LABEL, "admin": True},
    {"kind": "role", "name": "rep", "version": 1, "label": LABEL,
     "entities": {"person": {"read": "own"}, "company": {"read": "own"}}},
]
FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
         "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
         "Иван", "Мария", "Сергей", "Анна", "Дмитрий", "Елена", "Алексей", "Ольга")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
        "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов")
WORDS = ("acme", "globex", "initech", "umbrella", "stark", "wayne", "wonka", "tyrell",
         "cyberdyne", "soylent", "hooli", "vandelay", "massive", "dynamic", "oceanic",
         "поставка", "северный", "торговый", "договор", "холдинг")


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    roles: tuple[str, ...]
    is_admin: bool = False


@contextmanager
def scratch(url: str | None, *, keep: bool) -> Iterator[sa.Engine]:
    """bench/duplicates.py's scratch database; with `keep`, a PostgreSQL schema of our
    own that stays (for `--schema`)."""
    if not keep or url is None or not url.startswith("postgresql"):
        with _scratch(url) as engine:
            yield engine
        return
    schema = f"bench_search_{uuid.uuid4().hex[:8]}"
    with create_database_engine(url).begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    print(f"schema kept: {schema}")
    engine = create_database_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()


def person(n: int) -> dict[str, Any]:
    first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
    return {"first_name": f"{first}", "last_name": f"{last}{'' if n % 7 else n}",
            "email": f"p{n}@{WORDS[n % len(WORDS)]}.example"}


def company(n: int) -> dict[str, Any]:
    words = WORDS[n % len(WORDS)], WORDS[(n // len(WORDS)) % len(WORDS)]
    return {"name": f"{words[0].title()} {words[1].title()} {n}"}


def fill(engine: sa.Engine, metadata: MetadataService, total: int) -> float:
    live = metadata.live()
    started = time.perf_counter()
    now = datetime.now(UTC)
    companies = total // 5
    for entity, count, values in (("person", total - companies, person),
                                  ("company", companies, company)):
        table = live.tables[entity]
        with engine.begin() as conn:
            search_index_for(conn).drop(conn, table.name)  # built in bulk afterwards
            rows: list[dict[str, Any]] = []
            for n in range(count):
                rows.append({"id": new_id(), "created_at": now, "updated_at": now,
                             "version": 1, "owner": f"u{n % OWNERS}", **values(n)})
                if len(rows) == BATCH:
                    conn.execute(table.insert(), rows)
                    rows = []
            if rows:
                conn.execute(table.insert(), rows)
    return time.perf_counter() - started


def full_name(n: int) -> str:
    """The first and last name of the n-th person (n a multiple of 7: a numbered name)."""
    return f"{FIRST[n % len(FIRST)]} {LAST[(n // len(FIRST)) % len(LAST)]}{n}"


QUERIES: dict[str, Callable[[random.Random], str]] = {
    "common word": lambda r: r.choice(LAST[:24]),
    "prefix": lambda r: r.choice(LAST[:24])[:4],
    "rare full name": lambda r: full_name(r.randrange(0, 700_000, 7)),
    "russian form": lambda r: r.choice(("Смирнова", "Иванову", "договора", "поставки")),
    "typo": lambda r: r.choice(("Jonhson", "Wiliams", "Rodrigez", "Andersen", "Thompsen")),
    "two words": lambda r: f"{r.choice(FIRST[:16])} {r.choice(LAST[:24])[:5]}",
}


def timings(call: Callable[[int], Any], count: int) -> tuple[float, float]:
    spent = []
    for n in range(count):
        started = time.perf_counter()
        call(n)
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return statistics.median(spent), spent[max(int(len(spent) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="database URL (default: a SQLite file)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=60, help="per query kind and user")
    parser.add_argument("--schema", default=None,
                        help="PostgreSQL: search the records a kept run filled in this schema")
    parser.add_argument("--keep", action="store_true",
                        help="PostgreSQL: keep the scratch schema (its name is printed)")
    parser.add_argument("--reindex", action="store_true",
                        help="with --schema: build the search index again first (after a "
                             "change of its definition)")
    args = parser.parse_args()
    if args.schema:
        engine = create_database_engine(
            args.url, connect_args={"options": f"-csearch_path={args.schema}"})
        try:
            measure(engine, args, fill_first=False)
        finally:
            engine.dispose()
        return
    with scratch(args.url, keep=args.keep) as engine:
        measure(engine, args, fill_first=True)


def measure(engine: sa.Engine, args: argparse.Namespace, *, fill_first: bool) -> None:
    registry = default_registry()
    metadata = MetadataService(engine, registry)
    metadata.initialize()
    teams = TeamDirectory(engine)
    teams.initialize()
    records = RecordsService(engine, metadata, registry, teams)
    if fill_first:
        metadata.apply([Document.from_body(b, source=f"{b['name']}.json", pack="bench")
                        for b in BODIES], author="bench")
        seconds = fill(engine, metadata, args.records)
        print(f"{engine.dialect.name}: {args.records:,} records filled in {seconds:.1f} s")
    if fill_first or args.reindex:
        started = time.perf_counter()
        model = metadata.current_model()
        with engine.begin() as conn:
            reindex(conn, list(model.entities.values()), registry)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE")
        print(f"  search index built in {time.perf_counter() - started:.1f} s")
    with engine.connect() as conn:
        total = sum(int(conn.execute(sa.select(sa.func.count()).select_from(
            sa.table(name))).scalar_one()) for name in ("crm_person", "crm_company"))
    print(f"{engine.dialect.name}: searching {total:,} records")
    search = GlobalSearch(records)
    everything: list[float] = []
    for who, actor in (("admin", Actor("admin", "admin", ("admin",), True)),
                       ("rep", Actor("u7", "u7", ("rep",)))):
        subject = records.subject_for(actor)
        titles = PlainTitles(records, subject)
        for kind, make in QUERIES.items():
            generator = random.Random(kind)
            queries = [make(generator) for _ in range(args.searches)]

            def run(n: int, queries: list[str] = queries, subject: Any = subject,
                    titles: PlainTitles = titles) -> None:
                # as `GET /api/v1/search` runs: the request pins the metadata version once
                with metadata.pinned():
                    search.search(subject, queries[n], titles, limit=5)

            spent: list[float] = []
            for n in range(args.searches):
                began = time.perf_counter()
                run(n)
                spent.append((time.perf_counter() - began) * 1000)
            everything.extend(spent)
            spent.sort()
            print(f"  {who:<5} {kind:<15} median {statistics.median(spent):7.1f} ms   "
                  f"p95 {spent[max(int(len(spent) * 0.95) - 1, 0)]:7.1f} ms")
    everything.sort()
    print(f"  all searches: median {statistics.median(everything):.1f} ms, "
          f"p95 {everything[int(len(everything) * 0.95) - 1]:.1f} ms "
          f"({len(everything)} searches)")


if __name__ == "__main__":
    main()
