"""The storage half of merging records: rows as stored (kept to undo), references re-pointed
from the merged records to the survivor and back, and the merge ledger.

Re-pointing covers every reference field of every entity aimed at the merged records'
entity, and every `regarding` link (a polymorphic reference: its id column is compared, ids
being unique across entities), whatever scope the merging user has: a reference to a merged
record must not dangle. Each change is recorded (table, column, row id, old id) so an undo
puts back exactly those values — and only where the value is still the survivor's id.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from metacrm.metadata.model import CompiledModel
from metacrm.storage.record_references import inbound_references
from metacrm.storage.system_tables import record_merges


def _encode(value: Any) -> Any:
    """A stored column value as JSON (tagged where JSON has no such type)."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (tag, text), = value.items()
        if tag == "$datetime":
            return datetime.fromisoformat(text)
        if tag == "$date":
            return date.fromisoformat(text)
        if tag == "$decimal":
            return Decimal(text)
        if tag == "$bytes":
            return base64.b64decode(text)
    return value


def snapshot_rows(conn: sa.Connection, table: sa.Table, ids: Sequence[str]
                  ) -> list[dict[str, Any]]:
    """The rows with these ids, every column, as JSON (for `restore_rows`)."""
    rows = conn.execute(sa.select(table).where(table.c.id.in_(list(ids)))).mappings()
    return [{key: _encode(value) for key, value in row.items()} for row in rows]


def restore_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
                 ) -> None:
    """Insert rows `snapshot_rows` kept (columns the table no longer has are left out)."""
    if rows:
        conn.execute(table.insert(), [
            {key: _decode(value) for key, value in row.items() if key in table.c}
            for row in rows])


def delete_rows(conn: sa.Connection, table: sa.Table, ids: Sequence[str]) -> None:
    conn.execute(sa.delete(table).where(table.c.id.in_(list(ids))))


def repoint_references(
    conn: sa.Connection, model: CompiledModel, tables: Mapping[str, sa.Table], entity: str,
    merged: Sequence[str], survivor: str, now: datetime,
) -> list[dict[str, str]]:
    """Point every reference to a merged record at the survivor; the changes made
    (`{"entity", "field", "id", "old"}` each). Changed rows get a new version."""
    changes: list[dict[str, str]] = []
    for ref in inbound_references(model).get(entity, ()):
        table = tables[ref.entity]
        column = table.c[ref.field]
        found = conn.execute(sa.select(table.c.id, column)
                             .where(column.in_(list(merged)))).all()
        if not found:
            continue
        conn.execute(sa.update(table).where(column.in_(list(merged)))
                     .values({ref.field: survivor, "version": table.c.version + 1,
                              "updated_at": now}))
        changes.extend({"entity": ref.entity, "field": ref.field, "id": str(row_id),
                        "old": str(old)} for row_id, old in found)
    return changes


def restore_references(
    conn: sa.Connection, tables: Mapping[str, sa.Table], changes: Sequence[Mapping[str, str]],
    survivor: str, now: datetime,
) -> None:
    """Undo `repoint_references`: each recorded reference that still names the survivor
    names its old record again (one the user re-pointed since is left alone)."""
    for change in changes:
        table = tables.get(change["entity"])
        if table is None or change["field"] not in table.c:
            continue
        column = table.c[change["field"]]
        conn.execute(sa.update(table)
                     .where(table.c.id == change["id"], column == survivor)
                     .values({change["field"]: change["old"],
                              "version": table.c.version + 1, "updated_at": now}))


def write_merge(conn: sa.Connection, *, merge_id: str, entity: str, survivor: str,
                merged: Sequence[str], ledger: Mapping[str, Any], actor: str | None,
                at: datetime) -> None:
    conn.execute(record_merges.insert().values(
        id=merge_id, entity=entity, survivor=survivor, merged=list(merged),
        ledger=dict(ledger), actor=actor, created_at=at))


def read_merge(conn: sa.Connection, merge_id: str, *, for_update: bool = False
               ) -> dict[str, Any] | None:
    statement = sa.select(record_merges).where(record_merges.c.id == merge_id)
    if for_update and conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    row = conn.execute(statement).mappings().first()
    return dict(row) if row is not None else None


def merges_into(conn: sa.Connection, entity: str, survivor: str) -> list[dict[str, Any]]:
    """The merges (not undone) that merged records into `survivor`, oldest first."""
    rows = conn.execute(
        sa.select(record_merges.c.id.label("merge"), record_merges.c.merged,
                  record_merges.c.created_at)
        .where(record_merges.c.entity == entity, record_merges.c.survivor == survivor,
               record_merges.c.undone_at.is_(None))
        .order_by(record_merges.c.created_at)).mappings()
    return [dict(row) for row in rows]


def mark_undone(conn: sa.Connection, merge_id: str, actor: str | None, at: datetime) -> None:
    conn.execute(sa.update(record_merges).where(record_merges.c.id == merge_id)
                 .values(undone_at=at, undone_by=actor))
