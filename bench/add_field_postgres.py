"""Benchmark: add fields to a 1,000,000-row entity table on PostgreSQL, online.

    python bench/add_field_postgres.py [--rows 1000000] [--url postgresql+psycopg://...]

Creates an entity table in a schema of its own (dropped at the end), fills it with
INSERT ... SELECT generate_series, then adds fields through the migration planner and
applier exactly as `metacrm metadata apply` does, and reports for each step the time and
whether PostgreSQL rewrote the table: `pg_class.relfilenode` changes when a table is
rewritten, so an unchanged relfilenode proves the ALTER was a catalog-only change.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.model import CompiledModel
from metacrm.storage.engine import create_database_engine
from metacrm.storage.migration import apply_plan, begin_migration, plan_migration

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def label(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": label(name), **options}


def entity(name: str, *fields: dict[str, Any]) -> Document:
    body = {"kind": "entity", "version": 1, "name": name, "label": label(name),
            "plural_label": label(name + "s"), "fields": list(fields)}
    return Document.from_body(body, source=f"bench/{name}.json", pack="bench")


BASE_FIELDS = (
    field("title", "text", max_length=200),
    field("amount", "decimal", precision=12, scale=2),
    field("status", "picklist", choices=[{"value": "open", "label": label("Open")},
                                         {"value": "won", "label": label("Won")}]),
)
STEPS: tuple[tuple[str, tuple[dict[str, Any], ...]], ...] = (
    ("add a nullable text field", (field("website", "url"),)),
    ("add a nullable reference field (foreign key)",
     (field("website", "url"), field("account", "reference", entity="account"))),
)


@contextmanager
def scratch_schema(url: str) -> Iterator[sa.Engine]:
    """An engine whose search_path is a new schema; the schema is dropped afterwards."""
    schema = f"bench_add_field_{uuid.uuid4().hex[:8]}"
    admin = create_database_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = create_database_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def table_facts(engine: sa.Engine, table: str) -> tuple[int, int, int]:
    """(relfilenode, number of columns, total size in bytes) of `table`."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT c.relfilenode, c.relnatts, pg_total_relation_size(c.oid) "
                "FROM pg_class c WHERE c.oid = to_regclass(:table)"
            ),
            {"table": table},
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def migrate(engine: sa.Engine, registry: FieldTypeRegistry, old: CompiledModel | None,
            documents: list[Document], version: int) -> tuple[CompiledModel, float, str]:
    new = compile_model(documents, registry)
    plan = plan_migration(old, new, registry)
    started = time.perf_counter()
    with begin_migration(engine) as connection:
        apply_plan(connection, plan, old_model=old, new_model=new, registry=registry,
                   version=version, confirm_destructive=False)
    return new, time.perf_counter() - started, plan.describe()


def fill(engine: sa.Engine, rows: int) -> float:
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO crm_item (id, created_at, updated_at, version, title, amount, status)"
                " SELECT md5(g::text)::uuid::text, now(), now(), 1, 'Item ' || g,"
                " (g % 100000) / 100.0, CASE WHEN g % 3 = 0 THEN 'won' ELSE 'open' END"
                " FROM generate_series(1, :rows) AS g"
            ),
            {"rows": rows},
        )
        connection.exec_driver_sql("ANALYZE crm_item")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=os.environ.get("METACRM_BENCH_POSTGRES_URL",
                                                        DEFAULT_URL))
    args = parser.parse_args()
    registry = default_registry()
    account = entity("account", field("name", "text"))

    with scratch_schema(args.url) as engine:
        model, seconds, _ = migrate(engine, registry, None,
                                    [account, entity("item", *BASE_FIELDS)], 1)
        print(f"created crm_item in {seconds * 1000:.0f} ms")
        print(f"filled {args.rows:,} rows in {fill(engine, args.rows):.1f} s")
        for version, (title, extra) in enumerate(STEPS, start=2):
            before = table_facts(engine, "crm_item")
            model, seconds, described = migrate(
                engine, registry, model, [account, entity("item", *BASE_FIELDS, *extra)], version
            )
            after = table_facts(engine, "crm_item")
            with engine.connect() as connection:
                count = connection.execute(sa.text("SELECT count(*) FROM crm_item")).scalar()
            rewritten = "REWRITTEN" if before[0] != after[0] else "not rewritten"
            print(f"\n{title}: {seconds * 1000:.1f} ms (apply + commit)")
            print("  " + described.replace("\n", "\n  "))
            print(f"  relfilenode {before[0]} -> {after[0]}: table {rewritten}")
            print(f"  columns {before[1]} -> {after[1]}; rows kept: {count:,}; "
                  f"size {before[2] / 2**20:.1f} MiB -> {after[2] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
