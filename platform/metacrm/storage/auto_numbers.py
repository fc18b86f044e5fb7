"""Numbers for auto-number fields, drawn from `metacrm_sequences` in the caller's transaction.

The counter row is incremented with `UPDATE ... RETURNING`, which locks it until the
transaction ends: concurrent inserts wait for each other instead of drawing the same number,
and a rolled-back insert gives its numbers back. A missing row (a field added since the
last `metacrm init`) is created with `INSERT ... ON CONFLICT DO NOTHING` first, so two
transactions creating it at once do not fail.

A field numbered per fiscal year (`"per": "fiscal_year"`) has one counter row per year
(`<field>@<year>`), so numbering starts again at `start` each year and the `{year}` of its
prefix is the year the record was created in (`fiscal_year_start` moves the year's first
month: a fiscal year named 2026 that starts in April runs from April 2026 to March 2027).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from metacrm.fieldtypes.special import auto_number_start, fiscal_year, format_auto_number
from metacrm.metadata.model import FieldDef
from metacrm.storage.system_tables import sequences


def _increment(conn: sa.Connection, entity: str, field: str, count: int) -> int | None:
    statement = (
        sa.update(sequences)
        .where(sequences.c.entity == entity, sequences.c.field == field)
        .values(next_value=sequences.c.next_value + count)
        .returning(sequences.c.next_value)
    )
    return conn.execute(statement).scalar_one_or_none()


def _create_counter(conn: sa.Connection, entity: str, field: FieldDef, key: str) -> None:
    values = {"entity": entity, "field": key, "next_value": auto_number_start(field)}
    if conn.dialect.name == "postgresql":
        pg_insert = postgresql.insert(sequences).values(values).on_conflict_do_nothing()
        conn.execute(pg_insert)
    else:
        sqlite_insert = sqlite.insert(sequences).values(values).on_conflict_do_nothing()
        conn.execute(sqlite_insert)


def counter_key(field: FieldDef, year: int | None) -> str:
    """The counter row of the field (of one fiscal year when it is numbered per year)."""
    return field.name if year is None else f"{field.name}@{year}"


def draw_numbers(conn: sa.Connection, entity: str, field: FieldDef, count: int,
                 year: int | None = None) -> range:
    """Reserve `count` consecutive numbers of `entity.field` (of fiscal year `year`)."""
    key = counter_key(field, year)
    after = _increment(conn, entity, key, count)
    if after is None:
        _create_counter(conn, entity, field, key)
        after = _increment(conn, entity, key, count)
        if after is None:  # pragma: no cover - the row was just created in this transaction
            raise RuntimeError(f"auto-number counter {entity}.{field.name} is missing")
    return range(after - count, after)


def assign_numbers(
    conn: sa.Connection, entity: str, field: FieldDef, records: Sequence[dict[str, object]],
    now: datetime | None = None,
) -> None:
    """Give every record of a batch its number, in batch order (`now`: the moment of the
    insert, which picks the fiscal year of fields numbered per year)."""
    if not records:
        return
    year = fiscal_year(field, now) if now is not None else None
    for record, number in zip(records, draw_numbers(conn, entity, field, len(records), year),
                              strict=True):
        record[field.name] = format_auto_number(field, number, year)
