"""Audit rows and outbox events wait on the connection and go out together just before
the commit.

Why: every statement costs a round trip to the database, and on PostgreSQL a record create
used to be four of them — the INSERT of the record, of its audit rows, of its event, and an
UPDATE marking the event published (that one is gone too: `outbox.relayed_before_commit`).
Nothing in a write command reads its own audit rows or events back from the database
before the commit (listeners get the events in memory, see `outbox.collected`), so those
rows can wait and be written together, however many records the command changed.

How: the unit of work opens a buffer on its connection (`deferred`). While it is open,
`audit.write_entries` and `outbox.append` add their rows to it instead of executing. `flush`
writes them before the commit — on PostgreSQL in one statement (the audit rows in a
data-modifying CTE, both fed by `jsonb_to_recordset`, so the SQL text never changes and is
prepared once), on SQLite with one INSERT per table (no round trip to save) — and before
any read of the audit or outbox table on that connection. The rows commit or roll back with
the change exactly as before; only when they are sent changes. Outside a unit of work
nothing is deferred.

Measured (bench/api.py, create): riding the rows on the record's own INSERT instead saved
no more than 2 % over the flush, so the simpler flush it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from metacrm.storage.system_tables import audit, outbox

_BUFFER = "metacrm_trailing_writes"
AUDIT_ROWS = "audit_rows"
EVENT_ROWS = "event_rows"
"""The bind parameters of the flush statement (JSON arrays of rows)."""


@dataclass
class TrailingRows:
    """Rows of `metacrm_audit` and `metacrm_outbox` not written yet, in order."""

    audit: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.audit or self.outbox)

    def take(self) -> TrailingRows:
        """The rows, leaving this buffer empty."""
        taken = TrailingRows(self.audit, self.outbox)
        self.audit, self.outbox = [], []
        return taken


@contextmanager
def deferred(connection: sa.Connection) -> Iterator[None]:
    """Buffer audit and outbox rows written on `connection` inside the block. The caller
    calls `flush` before committing; rows left over when the block fails are dropped with
    the rolled-back transaction."""
    outer = connection.info.get(_BUFFER)
    connection.info[_BUFFER] = TrailingRows()
    try:
        yield
    finally:
        if outer is None:
            connection.info.pop(_BUFFER, None)
        else:
            connection.info[_BUFFER] = outer


def defer(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> bool:
    """Add `rows` of `table` (audit or outbox) to the open buffer; False when there is
    none (the caller writes them at once)."""
    buffer: TrailingRows | None = connection.info.get(_BUFFER)
    if buffer is None:
        return False
    (buffer.audit if table is audit else buffer.outbox).extend(rows)
    return True


def flush(connection: sa.Connection) -> None:
    """Write the buffered rows now (before a commit, or before reading those tables)."""
    buffer: TrailingRows | None = connection.info.get(_BUFFER)
    if not buffer:
        return
    rows = buffer.take()
    if connection.dialect.name == "postgresql":
        connection.execute(_FLUSH, _parameters(rows))
        return
    if rows.audit:
        connection.execute(audit.insert(), rows.audit)
    if rows.outbox:
        connection.execute(outbox.insert(), rows.outbox)


def _from_json_rows(table: sa.Table, parameter: str, alias: str) -> sa.Insert:
    """INSERT INTO `table` SELECT ... FROM jsonb_to_recordset(:parameter)."""
    rows = (
        sa.func.jsonb_to_recordset(sa.bindparam(parameter, type_=JSONB))
        .table_valued(*[sa.column(c.name, c.type) for c in table.c])
        .render_derived(name=alias, with_types=True)
    )
    names = [c.name for c in table.c]
    return table.insert().from_select(names, sa.select(*[rows.c[name] for name in names]))


_FLUSH = _from_json_rows(outbox, EVENT_ROWS, "event_rows").add_cte(
    _from_json_rows(audit, AUDIT_ROWS, "audit_rows").cte("trailing_audit"))
"""Both tables' rows in one statement: a data-modifying CTE for the audit rows."""


def _parameters(rows: TrailingRows) -> dict[str, list[dict[str, Any]]]:
    return {AUDIT_ROWS: [_json_row(row) for row in rows.audit],
            EVENT_ROWS: [_json_row(row) for row in rows.outbox]}


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as `jsonb_to_recordset` reads it: points in time as RFC 3339 UTC text."""
    return {name: _utc_text(value) if isinstance(value, datetime) else value
            for name, value in row.items()}


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("audit and outbox times must be aware (UTC)")
    return moment.astimezone(UTC).isoformat()
