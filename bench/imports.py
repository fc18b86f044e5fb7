"""Benchmark: importing an N-row CSV into a 10-field entity, against psycopg's COPY.

    python bench/imports.py [--rows 1000000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                            [--skip-sqlite] [--skip-postgres] [--ab PAIRS]

The entity is bench/api.py's `gadget` (text, integer, decimal, money, date, datetime,
boolean, picklist, email, user); the CSV fills nine of them (the user field stays empty).
The import runs through the engine the CLI and the API use (`ImportService.start` +
`run`, batches of 1,000, as an admin), once silent (audit rows, no events) and once
normal (audit rows and a `record.created` event per record), each on a fresh database:
a private PostgreSQL schema and a temporary SQLite file. In the same run, the same rows in
storage form are loaded into an identical table with psycopg's `COPY ... FROM STDIN` (no
validation, no audit): the floor. Prints rows/s per run (wall clock), and the CPU time of
this process (the Python side: on a shared machine the wall clock also counts waiting for
a core).

`--ab PAIRS` compares instead, on PostgreSQL, silent: the batches' new records written with
`executemany` (a statement per row) and with COPY into a staging table + INSERT ... SELECT
(`storage.copy_insert`, what imports use for the records and the ledger rows), PAIRS times
each, interleaved.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

import metacrm.imports.ledger as import_ledger
import metacrm.storage.repository as record_repository

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_data import ADMIN_ROLE, GADGET, STAGES
from metacrm.access.subject import AccessSubject
from metacrm.composition import build_services
from metacrm.fieldtypes import default_registry
from metacrm.imports.service import ImportRequest, ImportService
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COLUMNS = ("title", "quantity", "weight", "price", "due_on", "seen_at", "active", "stage",
           "email")
SECRET_KEY = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105  # throwaway
ADMIN = AccessSubject(user_id="1", username="bench", roles=("boss",), is_admin=True)


class AdminOnly:
    """The importer of the bench: an admin, without a user table behind it."""

    def subject_of(self, user_id: str) -> AccessSubject | None:
        return ADMIN


def make_csv(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n in range(rows):
        writer.writerow([f"Gadget {n}", (n * 7919) % 1000, f"{(n * 31) % 100000 / 1000:.3f}",
                         f"{(n * 104729) % 5000000 / 100:.2f}",
                         (start + timedelta(days=n % 365)).date().isoformat(),
                         (start + timedelta(minutes=n)).isoformat(),
                         "true" if n % 2 == 0 else "false", STAGES[n % 5],
                         f"user{n}@example.com"])
    return out.getvalue().encode()


@contextmanager
def database(kind: str, url: str) -> Iterator[str]:
    """A fresh database: a temporary SQLite file or a private PostgreSQL schema."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    schema = f"bench_imports_{uuid.uuid4().hex[:8]}"
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


def import_once(url: str, content: bytes, silent: bool
                ) -> tuple[float, float, dict[str, int]]:
    """Wall seconds and this process's CPU seconds of one import, and its counts."""
    registry = default_registry()
    engine = create_database_engine(url)
    try:
        MetadataService(engine, registry).apply(
            [Document.from_body(b, source=f"{b['name']}.json", pack="bench")
             for b in (GADGET, ADMIN_ROLE)], author="bench")
    finally:
        engine.dispose()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=url, metadata_paths=(), instance_path=Path(folder),
                            redis_url=None,
                            secret_key=SECRET_KEY)
        services = build_services(settings)
        try:
            service = ImportService(services.records, services.subjects.users, AdminOnly())
            started, cpu = time.perf_counter(), time.process_time()
            stored = service.start(ADMIN, ImportRequest(
                "gadget", "gadgets.csv", content, {"columns": {c: c for c in COLUMNS}},
                silent=silent), run_now=False)
            done = service.run(stored.id)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            services.close()
    return elapsed, cpu, done.counts


def copy_floor(url: str, content: bytes) -> float:
    """psycopg COPY of the same rows (storage form) into a plain table of the same shape."""
    engine = create_database_engine(url)
    rows = list(csv.reader(io.StringIO(content.decode())))[1:]
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE copy_gadget (id text PRIMARY KEY, created_at timestamptz, "
                "created_by text, updated_at timestamptz, updated_by text, owner text, "
                "version integer, title varchar(200), quantity bigint, weight numeric(12,3), "
                "price numeric(18,2), price_currency varchar(3), due_on date, "
                "seen_at timestamptz, active boolean, stage varchar(64), email varchar(254), "
                "manager text)")
        raw = engine.raw_connection()
        try:
            started = time.perf_counter()
            cursor = raw.cursor()
            with cursor.copy("COPY copy_gadget (id, created_at, created_by, updated_at, "  # type: ignore[attr-defined]
                             "updated_by, owner, version, title, quantity, weight, price, "
                             "price_currency, due_on, seen_at, active, stage, email) "
                             "FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((str(uuid.uuid4()), now, "1", now, "1", "1", 1, row[0],
                                    int(row[1]), Decimal(row[2]), Decimal(row[3]), "USD",
                                    row[4], row[5], row[6] == "true", row[7], row[8]))
            raw.commit()
            return time.perf_counter() - started
        finally:
            raw.close()
    finally:
        engine.dispose()


def compare_copy(url: str, content: bytes, rows: int, pairs: int) -> None:
    """Interleaved silent PostgreSQL imports with and without the set-based write."""
    applies = record_repository.copy_applies
    for pair in range(pairs):
        for label, use_copy in (("executemany", False), ("COPY + INSERT..SELECT", True)):
            chosen = applies if use_copy else (lambda _conn, _rows: False)
            for module in (record_repository, import_ledger):
                module.copy_applies = chosen  # type: ignore[attr-defined]
            try:
                with database("postgresql", url) as fresh:
                    elapsed, cpu, counts = import_once(fresh, content, True)
            finally:
                for module in (record_repository, import_ledger):
                    module.copy_applies = applies  # type: ignore[attr-defined]
            assert counts.get("created") == rows, counts
            print(f"pair {pair + 1} {label:22} {elapsed:8.2f} s  {rows / elapsed:10,.0f} rows/s"
                  f"   (this process's CPU: {cpu:.2f} s, {rows / cpu:,.0f} rows per CPU "
                  "second)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--ab", type=int, default=0, metavar="PAIRS")
    args = parser.parse_args()
    content = make_csv(args.rows)
    print(f"{args.rows:,} rows, {len(content) / 1e6:.1f} MB of CSV")
    if args.ab:
        compare_copy(args.url, content, args.rows, args.ab)
        return
    results: list[tuple[str, str, float]] = []
    kinds = [k for k, skip in (("postgresql", args.skip_postgres),
                               ("sqlite", args.skip_sqlite)) if not skip]
    for kind in kinds:
        for silent in (True, False):
            with database(kind, args.url) as url:
                elapsed, cpu, counts = import_once(url, content, silent)
            assert counts.get("created") == args.rows, counts
            label = "silent" if silent else "audit + events"
            results.append((kind, label, elapsed))
            print(f"{kind:10} {label:15} {elapsed:8.2f} s  {args.rows / elapsed:10,.0f} rows/s"
                  f"   (this process's CPU: {cpu:.2f} s, {args.rows / cpu:,.0f} rows per "
                  "CPU second)", flush=True)
        if kind == "postgresql":
            with database(kind, args.url) as url:
                elapsed = copy_floor(url, content)
            results.append((kind, "COPY (floor)", elapsed))
            print(f"{kind:10} {'COPY (floor)':15} {elapsed:8.2f} s  "
                  f"{args.rows / elapsed:10,.0f} rows/s", flush=True)


if __name__ == "__main__":
    main()
