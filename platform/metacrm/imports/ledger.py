"""The import rows: `metacrm_imports` (one per import: options, file, progress, counts) and
`metacrm_import_rows` (the ledger: one per file row and per referenced record an import
created — its outcome, the record, what an update replaced, why a row failed)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.storage.copy_insert import copy_applies, copy_insert
from metacrm.storage.system_tables import import_mappings, import_rows, imports

QUEUED, RUNNING, COMPLETED, FAILED, REVERTED = (
    "queued", "running", "completed", "failed", "reverted")
CREATED, UPDATED, UNCHANGED, ROW_FAILED = "created", "updated", "unchanged", "failed"
OUTCOMES = (CREATED, UPDATED, UNCHANGED, ROW_FAILED)


def zero_counts() -> dict[str, int]:
    return {outcome: 0 for outcome in OUTCOMES}


@dataclass(frozen=True)
class StoredImport:
    id: str
    entity: str
    user_id: str
    status: str
    options: dict[str, Any]
    file_name: str
    file_hash: str
    total_rows: int | None
    processed_rows: int
    counts: dict[str, int]
    summary: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    reverted_at: datetime | None


@dataclass(frozen=True, slots=True)
class LedgerRow:
    row_number: int
    outcome: str
    entity: str
    record_id: str | None = None
    previous: dict[str, Any] | None = None
    source: dict[str, str] | None = None
    reason: str | None = None


_COLUMNS = [c for c in imports.c
            if c.name not in ("content", "heartbeat_at", "request_hash")]


def _stored(row: sa.RowMapping) -> StoredImport:
    return StoredImport(**{c.name: row[c.name] for c in _COLUMNS})


def insert(conn: sa.Connection, values: dict[str, Any]) -> None:
    conn.execute(imports.insert().values(**values))


def get(conn: sa.Connection, import_id: str) -> StoredImport | None:
    row = conn.execute(sa.select(*_COLUMNS).where(imports.c.id == import_id)).mappings().first()
    return None if row is None else _stored(row)


def content(conn: sa.Connection, import_id: str) -> bytes | None:
    return conn.execute(sa.select(imports.c.content).where(imports.c.id == import_id)
                        ).scalar_one_or_none()


def find_request(conn: sa.Connection, user_id: str, request_hash: str) -> StoredImport | None:
    """The user's earlier import of the same file with the same options (not failed nor
    reverted): starting it again returns that one (idempotent per file)."""
    row = conn.execute(
        sa.select(*_COLUMNS).where(imports.c.user_id == user_id,
                                   imports.c.request_hash == request_hash,
                                   imports.c.status.not_in((FAILED, REVERTED)))
        .order_by(imports.c.created_at.desc()).limit(1)).mappings().first()
    return None if row is None else _stored(row)


def update(conn: sa.Connection, import_id: str, **values: Any) -> None:
    conn.execute(imports.update().where(imports.c.id == import_id).values(**values))


def claim(conn: sa.Connection, import_id: str, now: datetime, stale_before: datetime
          ) -> bool:
    """Mark a queued import running — or a running one whose runner has not been heard
    of since `stale_before` (it died: the new runner resumes it); False otherwise."""
    result = conn.execute(imports.update().where(
        imports.c.id == import_id,
        sa.or_(imports.c.status == QUEUED,
               sa.and_(imports.c.status == RUNNING,
                       sa.or_(imports.c.heartbeat_at.is_(None),
                              imports.c.heartbeat_at < stale_before)))
    ).values(status=RUNNING, heartbeat_at=now))
    return bool(result.rowcount)


def write_rows(conn: sa.Connection, import_id: str, rows: Sequence[LedgerRow]) -> None:
    """A batch's ledger rows; on PostgreSQL by COPY (`storage.copy_insert`), like its
    records."""
    values = [{"import_id": import_id, "row_number": r.row_number, "outcome": r.outcome,
               "entity": r.entity, "record_id": r.record_id, "previous": r.previous,
               "source": r.source, "reason": r.reason} for r in rows]
    if copy_applies(conn, values):
        copy_insert(conn, import_rows, values)
    elif values:
        conn.execute(import_rows.insert(), values)


def next_reference_row(conn: sa.Connection, import_id: str) -> int:
    """The ledger number of the next referenced record an import creates: they count down
    from -1, below every file row (whose numbers start at 2)."""
    lowest = conn.execute(sa.select(sa.func.min(import_rows.c.row_number)).where(
        import_rows.c.import_id == import_id)).scalar_one()
    return min(int(lowest or 0), 0) - 1


def rows(conn: sa.Connection, import_id: str, outcomes: Sequence[str], *,
         descending: bool = False) -> Iterator[LedgerRow]:
    order = import_rows.c.row_number.desc() if descending else import_rows.c.row_number
    result = conn.execute(sa.select(import_rows).where(
        import_rows.c.import_id == import_id, import_rows.c.outcome.in_(outcomes)
    ).order_by(order)).mappings()
    for row in result:
        yield LedgerRow(row["row_number"], row["outcome"], row["entity"], row["record_id"],
                        row["previous"], row["source"], row["reason"])


def save_mapping(conn: sa.Connection, entity: str, name: str, mapping: dict[str, Any],
                 user_id: str | None, at: datetime) -> None:
    """Save (or replace) the named mapping of `entity`."""
    table = import_mappings
    conn.execute(table.delete().where(table.c.entity == entity, table.c.name == name))
    conn.execute(table.insert().values(entity=entity, name=name, mapping=mapping,
                                       updated_by=user_id, updated_at=at))


def load_mapping(conn: sa.Connection, entity: str, name: str) -> dict[str, Any] | None:
    table = import_mappings
    found = conn.execute(sa.select(table.c.mapping).where(
        table.c.entity == entity, table.c.name == name)).scalar_one_or_none()
    return dict(found) if isinstance(found, dict) else None


def mapping_names(conn: sa.Connection, entity: str) -> list[str]:
    table = import_mappings
    return list(conn.execute(sa.select(table.c.name).where(table.c.entity == entity)
                             .order_by(table.c.name)).scalars())
