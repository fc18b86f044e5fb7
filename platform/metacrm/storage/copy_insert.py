"""A set-based INSERT for PostgreSQL: COPY the rows into a staging table, then one
INSERT ... SELECT into the record table.

Why: psycopg sends an `executemany` INSERT as one statement per row (pipelined); COPY
moves a batch in one stream, and the INSERT ... SELECT lets the server check the record
table's constraints (unique values, references) for the whole batch at once. The rows are
the repository's storage rows, built and validated exactly as for `executemany`; only the
statement that writes them changes, so a constraint the INSERT ... SELECT breaks raises
the same `IntegrityError` (translated by the caller) as the `executemany` would.

The staging table is a temporary table per record table and connection, created on first
use with the record table's columns but none of its constraints (`CREATE TABLE ... AS ...
WITH NO DATA`), so COPY itself never refuses a row; it is emptied after each batch and at
commit (`ON COMMIT DELETE ROWS`). Its name carries a digest of the columns and their types,
so a pooled connection never reuses a staging table of an older shape of the record table
(after a metadata change, or a table of the same name in another schema). A rolled-back
savepoint that created it drops it; the next batch creates it again (`IF NOT EXISTS`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

COPY_MIN_ROWS = 50
"""Fewer rows go through `executemany`: COPY's extra statements do not pay off."""

_Processors = list[tuple[str, Callable[[Any], Any] | None]]


def copy_applies(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether `copy_insert` is used for these rows on this connection."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg" \
        and len(rows) >= COPY_MIN_ROWS


def copy_insert(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
                ) -> None:
    """Insert `rows` (storage rows: column name -> value, as for `table.insert()`) into
    `table` through a staging table, in `conn`'s transaction."""
    names = [column.name for column in table.columns if any(column.name in r for r in rows)]
    processors = _column_processors(conn, table, names)
    preparer = conn.dialect.identifier_preparer
    target = preparer.format_table(table)
    shape = ",".join(f"{name}:{table.c[name].type.compile(conn.dialect)}" for name in names)
    digest = hashlib.sha1(f"{table.schema}.{shape}".encode(), usedforsecurity=False)
    stage = preparer.quote(f"metacrm_stage_{digest.hexdigest()[:16]}_{table.name}"[:63])
    columns = ", ".join(preparer.quote(name) for name in names)
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
        f"SELECT {columns} FROM {target} WITH NO DATA")
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(
            f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name) if process is None else process(row.get(name))
                            for name, process in processors])
    conn.exec_driver_sql(
        f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}")  # noqa: S608
    conn.exec_driver_sql(f"DELETE FROM {stage}")  # noqa: S608


def _column_processors(conn: sa.Connection, table: sa.Table, names: list[str]
                       ) -> _Processors:
    """Each column's SQLAlchemy bind processor (type decorators' `process_bind_param`,
    JSON serialisation), as the `executemany` would apply them."""
    dialect = conn.dialect
    return [(name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names]
