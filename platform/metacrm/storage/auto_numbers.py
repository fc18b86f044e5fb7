"""Numbers for auto-number fields, drawn from `metacrm_sequences` in the caller's transaction.

The counter row is incremented with `UPDATE ... RETURNING`, which locks it until the
transaction ends: concurrent inserts wait for each other instead of drawing the same number,
and a rolled-back insert gives its numbers back. A missing row (a field added since the
last `metacrm init`) is created with `INSERT ... ON CONFLICT DO NOTHING` first, so two
transactions creating it at once do not fail.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from metacrm.fieldtypes.special import auto_number_start, format_auto_number
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


def _create_counter(conn: sa.Connection, entity: str, field: FieldDef) -> None:
    values = {"entity": entity, "field": field.name, "next_value": auto_number_start(field)}
    if conn.dialect.name == "postgresql":
        pg_insert = postgresql.insert(sequences).values(values).on_conflict_do_nothing()
        conn.execute(pg_insert)
    else:
        sqlite_insert = sqlite.insert(sequences).values(values).on_conflict_do_nothing()
        conn.execute(sqlite_insert)


def draw_numbers(conn: sa.Connection, entity: str, field: FieldDef, count: int) -> range:
    """Reserve `count` consecutive numbers of `entity.field`; returns them."""
    after = _increment(conn, entity, field.name, count)
    if after is None:
        _create_counter(conn, entity, field)
        after = _increment(conn, entity, field.name, count)
        if after is None:  # pragma: no cover - the row was just created in this transaction
            raise RuntimeError(f"auto-number counter {entity}.{field.name} is missing")
    return range(after - count, after)


def assign_numbers(
    conn: sa.Connection, entity: str, field: FieldDef, records: Sequence[dict[str, object]]
) -> None:
    """Give every record of a batch its number, in batch order."""
    if not records:
        return
    for record, number in zip(records, draw_numbers(conn, entity, field, len(records)),
                              strict=True):
        record[field.name] = format_auto_number(field, number)
