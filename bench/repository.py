"""Benchmark: the record repository against hand-written SQLAlchemy Core (the floor).

    python bench/repository.py [--url URL] [--rows 100000] [--batch 1000] [--repeat 200]

Default database: a SQLite file in a temporary folder. With a PostgreSQL URL the benchmark
works in a private schema that is dropped at the end.

Measured, in the same run and on the same table:
1. inserting `--rows` records in batches of `--batch` (one transaction per batch): the
   repository's `insert_many` (validation, normalisation, defaults, system columns) against
   `conn.execute(table.insert(), rows)` with rows already in storage form;
2. a criteria query with two conditions (stage = open AND amount >= 1000), sorted by
   `-amount`, one keyset page of 50 — the first page and a page deep in the result —
   `repository.query` against the equivalent hand-written Core SELECT returning dicts.
Reported: times and the ratio repository / hand-written.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metacrm.criteria.context import CriteriaContext
from metacrm.fieldtypes import default_registry
from metacrm.kernel.ids import new_id
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.storage.engine import create_database_engine
from metacrm.storage.keyset import encode_cursor
from metacrm.storage.repository import RecordRepository
from metacrm.storage.system_tables import create_system_tables
from metacrm.storage.tables import build_record_tables

LABEL = {"en": "Deal", "ru": "Сделка"}
STAGES = ("open", "won", "lost")
DEAL = {
    "kind": "entity", "name": "deal", "version": 1, "label": LABEL, "plural_label": LABEL,
    "fields": [
        {"name": "title", "type": "text", "label": LABEL, "required": True},
        {"name": "amount", "type": "money", "label": LABEL, "currency": "USD",
         "indexed": True},
        {"name": "stage", "type": "picklist", "label": LABEL, "indexed": True,
         "choices": [{"value": s, "label": LABEL} for s in STAGES]},
        {"name": "probability", "type": "integer", "label": LABEL, "min": 0, "max": 100},
        {"name": "close_date", "type": "date", "label": LABEL},
        {"name": "account_manager", "type": "user", "label": LABEL},
        {"name": "won", "type": "boolean", "label": LABEL, "default": False},
    ],
}
CRITERIA = {"and": [{"field": "stage", "op": "eq", "value": "open"},
                    {"field": "amount", "op": "gte", "value": "1000"}]}
PAGE = 50


def make_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """The records to insert, as a service would hand them over (Python values)."""
    rng = random.Random(seed)
    start = date(2024, 1, 1)
    return [
        {
            "title": f"Deal {i}",
            "amount": {"amount": Decimal(rng.randrange(0, 5_000_000)) / 100, "currency": "USD"},
            "stage": rng.choice(STAGES),
            "probability": rng.randrange(0, 101),
            "close_date": start + timedelta(days=rng.randrange(0, 365)),
            "account_manager": f"user-{rng.randrange(50)}",
        }
        for i in range(count)
    ]


@contextmanager
def database(url: str | None) -> Iterator[sa.Engine]:
    """An engine on an empty database: temp SQLite file, or a private PostgreSQL schema."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            engine = create_database_engine(url or f"sqlite:///{Path(folder) / 'bench.db'}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    admin = create_database_engine(url)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
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


def core_rows(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """What hand-written code would insert: storage form plus the system columns."""
    return [
        {
            "id": new_id(), "created_at": now, "created_by": "bench", "updated_at": now,
            "updated_by": "bench", "owner": "bench", "version": 1,
            "title": row["title"], "amount": row["amount"]["amount"],
            "amount_currency": row["amount"]["currency"], "stage": row["stage"],
            "probability": row["probability"], "close_date": row["close_date"],
            "account_manager": row["account_manager"], "won": False,
        }
        for row in rows
    ]


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def per_call(action: Callable[[], object], repeat: int) -> float:
    """Median seconds per call after a short warm-up."""
    for _ in range(min(10, repeat)):
        action()
    samples = [timed(action) for _ in range(repeat)]
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: SQLite in a temp folder)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200, help="runs per query timing")
    args = parser.parse_args(argv)

    registry = default_registry()
    model = compile_model([Document.from_body(DEAL, source="deal.json", pack="bench")],
                          registry)
    tables = build_record_tables(model, registry)
    table = tables["deal"]
    repo = RecordRepository(model, tables, registry)
    rows = make_rows(args.rows)
    batches = [rows[i : i + args.batch] for i in range(0, len(rows), args.batch)]

    with database(args.url) as engine:
        with engine.begin() as conn:
            create_system_tables(conn)
            tables.metadata.create_all(conn)
        version = engine.dialect.server_version_info
        print(f"database: {engine.dialect.name} {'.'.join(map(str, version or ()))}, "
              f"rows: {args.rows}, batch: {args.batch}")

        def insert_core() -> None:
            for batch in batches:
                with engine.begin() as conn:
                    conn.execute(table.insert(), core_rows(batch, datetime.now(UTC)))

        def insert_repository() -> None:
            for batch in batches:
                with engine.begin() as conn:
                    repo.insert_many(conn, "deal", batch, actor="bench")

        core_insert = timed(insert_core)
        with engine.begin() as conn:
            conn.execute(sa.delete(table))
        repo_insert = timed(insert_repository)
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE crm_deal")
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")

        report: list[tuple[str, float, float]] = [
            (f"insert {args.rows} rows (total)", repo_insert, core_insert)
        ]
        report.extend(query_timings(engine, repo, table, args.repeat))

    print(f"{'operation':<44}{'repository':>14}{'hand-written':>14}{'ratio':>8}")
    for name, repo_s, core_s in report:
        unit, scale = ("s", 1.0) if repo_s > 1 else ("ms", 1000.0)
        print(f"{name:<44}{repo_s * scale:>11.3f} {unit:<2}{core_s * scale:>11.3f} {unit:<2}"
              f"{repo_s / core_s:>8.2f}")
    return 0


def query_timings(
    engine: sa.Engine, repo: RecordRepository, table: sa.Table, repeat: int
) -> list[tuple[str, float, float]]:
    amount, stage, id_ = table.c.amount, table.c.stage, table.c.id
    order = (amount.desc().nulls_first(), id_.asc())
    matching = sa.and_(stage == "open", amount >= Decimal(1000))
    context = CriteriaContext()

    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).where(matching)).scalar_one()
        deep_row = conn.execute(
            sa.select(amount, id_).where(matching).order_by(*order)
            .offset(int(total * 0.8)).limit(1)
        ).one()
    keys = repo.sort_keys("deal", ["-amount"])
    deep_cursor = encode_cursor("deal", keys, [deep_row.amount, deep_row.id])

    def core_page(after: tuple[Decimal, str] | None) -> list[dict[str, Any]]:
        statement = sa.select(*table.c).where(matching)
        if after is not None:
            value, last_id = after
            statement = statement.where(
                amount <= value,
                sa.or_(amount < value, sa.and_(amount == value, id_ > last_id)),
            )
        with engine.connect() as conn:
            result = conn.execute(statement.order_by(*order).limit(PAGE + 1)).mappings()
            return [dict(row) for row in result][:PAGE]

    def repo_page(cursor: str | None) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return repo.query(conn, "deal", criteria=CRITERIA, context=context,
                              sort=["-amount"], limit=PAGE, cursor=cursor).records

    deep = (deep_row.amount, deep_row.id)
    for cursor, after in ((None, None), (deep_cursor, deep)):
        same = [r["id"] for r in repo_page(cursor)] == [r["id"] for r in core_page(after)]
        if not same:
            raise SystemExit("repository and hand-written query disagree")
    return [
        (f"query first page of {PAGE} ({total} match)",
         per_call(lambda: repo_page(None), repeat), per_call(lambda: core_page(None), repeat)),
        (f"query page at row {int(total * 0.8)} of {total}",
         per_call(lambda: repo_page(deep_cursor), repeat),
         per_call(lambda: core_page(deep), repeat)),
    ]


if __name__ == "__main__":
    sys.exit(main())
