"""Benchmark: resolving a segment of 1,000,000 persons (issue 17: <= 10 s on PostgreSQL).

    python bench/segments.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/segments.py --records 100000                  # SQLite file, reduced

Installs the shipped packs up to `marketing` in a scratch database (a schema of its own on
PostgreSQL, dropped at the end), fills `--records` persons straight into the table
(`INSERT ... SELECT generate_series` on PostgreSQL), saves a dynamic segment whose criteria
match every one of them (`email_opt_out` is not true, `preferred_language` in en/ru/de/fr)
and times, as an admin and once each:

* `Segments.count` — the exact count preview;
* `Segments.member_ids` — the ids, walked in id order in batches under the read scope;
* `Segments.resolve` — every member as an `AudienceMember` (email, name, language): what
  a mailing walks; and the same touching every member's `values` (a mailing with merge
  fields: each batch's records read and converted to JSON).

Then the same segment as a user who reads only their own persons (1 of 200 owners).
`--explain` (PostgreSQL) prints the plan of one keyset batch of `member_ids` and of
`resolve` as the admin and the rep (EXPLAIN ANALYZE of the statement the walk sent second,
so it has an `after`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from duplicates import scratch
from metacrm.access.subject import AccessSubject
from metacrm.access.teams import TeamDirectory
from metacrm.fieldtypes import default_registry
from metacrm.kernel.ids import new_id
from metacrm.marketing.segments import Segments
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import load_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.service import RecordsService
from metacrm.settings import DEFAULT_METADATA_PATH
from metacrm.storage.search_index import search_index_for

PACKS = ("contacts", "tasks", "activities", "sales", "email", "marketing")
OWNERS = 200
LANGUAGES = ("en", "ru", "de", "fr")
CRITERIA = {"and": [{"field": "email_opt_out", "op": "ne", "value": True},
                    {"field": "preferred_language", "op": "in", "value": list(LANGUAGES)}]}
REP_ROLE = {"kind": "role", "name": "bench_rep", "version": 1,
            "label": {"en": "Rep", "ru": "Менеджер"},
            "entities": {"person": {"read": "own"}, "segment": {"read": "all"}}}

_FILL_SQL = """
INSERT INTO crm_person (id, created_at, created_by, updated_at, updated_by, owner, version,
                        first_name, last_name, job_title, email, preferred_language,
                        do_not_call, email_opt_out)
SELECT '01900000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'), now(), 'bench', now(),
       'bench', 'u' || (g % 200), 1,
       'First' || (g % 977), 'Last' || g, 'Engineer', 'p' || g || '@example.com',
       (ARRAY['en','ru','de','fr'])[1 + g % 4], false, false
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
"""
"""Ids in insertion order, as metacrm's UUIDv7 ids are (random UUIDs would scatter every
keyset batch over the whole table, which real data does not)."""


@dataclass(frozen=True)
class Figure:
    what: str
    seconds: float
    rows: int


def fill(engine: sa.Engine, metadata: MetadataService, total: int) -> float:
    started = time.perf_counter()
    table = metadata.live().tables["person"]
    with engine.begin() as conn:
        # the quick search's index is not what is measured and triples the fill's time
        search_index_for(conn).drop(conn, table.name)
        if conn.dialect.name == "postgresql":
            step = 200_000
            for first in range(0, total, step):
                conn.execute(sa.text(_FILL_SQL), {"first": first,
                                                  "last": min(total, first + step) - 1})
            conn.exec_driver_sql("ANALYZE crm_person")
        else:
            now = datetime.now(UTC)
            for first in range(0, total, 10_000):
                conn.execute(table.insert(), [{
                    "id": new_id(), "created_at": now, "updated_at": now, "version": 1,
                    "owner": f"u{n % OWNERS}", "first_name": f"First{n % 977}",
                    "last_name": f"Last{n}", "job_title": "Engineer",
                    "email": f"p{n}@example.com", "preferred_language": LANGUAGES[n % 4],
                    "do_not_call": False, "email_opt_out": False,
                } for n in range(first, min(total, first + 10_000))])
    return time.perf_counter() - started


def floor(engine: sa.Engine) -> int:
    """Every person's id in one plain SELECT: what the database and driver cost."""
    with engine.connect() as conn:
        return len(conn.execute(sa.text("SELECT id FROM crm_person ORDER BY id")).all())


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs on crm_person sent on `engine` inside the block (statement, parameters)."""
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "crm_person" in statement:
            sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)


def explain(engine: sa.Engine, what: str, walk: Any) -> None:
    """Print the plan of the second batch statement `walk` sends (one with an `after`)."""
    with captured(engine) as sent:
        for _ in zip(range(30_000), walk(), strict=False):
            pass
    statement, parameters = sent[min(1, len(sent) - 1)]
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}",
                                    parameters).scalars().all()
    print(f"\n{what}:\n{statement}\n" + "\n".join(plan), flush=True)


def timed(what: str, call: Any) -> Figure:
    started = time.perf_counter()
    rows = call()
    return Figure(what, time.perf_counter() - started, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="database URL (default: SQLite file)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--values", action="store_true",
                        help="also time resolve reading every member's values (slow)")
    parser.add_argument("--explain", action="store_true",
                        help="print the query plans of a batch of the walks (PostgreSQL)")
    args = parser.parse_args()
    registry = default_registry()
    with scratch(args.url) as engine:
        metadata = MetadataService(engine, registry)
        metadata.initialize()
        documents = [d for d in load_documents([DEFAULT_METADATA_PATH]) if d.pack in PACKS]
        metadata.apply([*documents, Document.from_body(REP_ROLE, source="rep.json",
                                                       pack="bench")], author="bench")
        teams = TeamDirectory(engine)
        teams.initialize()
        records = RecordsService(engine, metadata, registry, teams)
        print(f"filled {args.records:,} persons in {fill(engine, metadata, args.records):.1f} s"
              f" ({engine.dialect.name})")
        admin = AccessSubject(user_id="1", username="admin", roles=("admin",), is_admin=True)
        rep = AccessSubject(user_id="u7", username="rep", roles=("bench_rep",))
        segment = records.create(admin, "segment", {
            "name": "Everyone", "entity": "person", "criteria": CRITERIA})["id"]
        segments = Segments(records, lambda: datetime.now(UTC))
        if args.explain:
            for who, subject in (("admin", admin), ("own-scope rep", rep)):
                explain(engine, f"{who}: member_ids", lambda s=subject: segments.member_ids(
                    segment, actor=s))
                explain(engine, f"{who}: resolve", lambda s=subject: segments.resolve(
                    segment, actor=s))
        figures = [timed("floor: every id, one SELECT, no scope", lambda: floor(engine))]
        for who, subject in (("admin", admin), ("own-scope rep", rep)):
            figures += [
                timed(f"{who}: count", lambda s=subject: segments.count(segment, actor=s)),
                timed(f"{who}: member_ids", lambda s=subject: sum(
                    1 for _ in segments.member_ids(segment, actor=s))),
                timed(f"{who}: resolve", lambda s=subject: sum(
                    1 for _ in segments.resolve(segment, actor=s))),
            ]
            if args.values or who != "admin":
                figures.append(timed(f"{who}: resolve + values", lambda s=subject: sum(
                    len(m.values) > 0 for m in segments.resolve(segment, actor=s))))
        print("| operation | members | seconds |")
        print("| --- | --- | --- |")
        for figure in figures:
            print(f"| {figure.what} | {figure.rows:,} | {figure.seconds:.2f} |", flush=True)
        metadata.close()


if __name__ == "__main__":
    main()
