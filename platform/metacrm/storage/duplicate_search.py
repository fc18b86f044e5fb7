"""The SQL of duplicate checks: records whose stored match keys equal (or, fuzzily, resemble)
given keys. Ids only — which of them a caller may see is the access layer's business.

Exact conditions are b-tree lookups on the key columns. Fuzzy ones on PostgreSQL use
pg_trgm: `key % :value` (served by the GIN trigram index, at the threshold set for the
transaction with `set_config('pg_trgm.similarity_threshold', ...)`) and then the exact
`similarity() >= threshold`; elsewhere they compare exactly. Measured alternative, rejected:
`similarity(key, :value) >= t` alone is a sequential scan (seconds at 1M rows); a GiST
index with `ORDER BY key <-> :value LIMIT 20` was 1.5-2x slower than GIN `%` at 100k keys
(bench/README.md, duplicate checks).

The threshold is one setting for the whole statement, so it is the *lowest* threshold of the
statement's fuzzy conditions (the `%` candidates are then a superset of every condition's
matches, and each condition's own `similarity() >=` keeps its own); it is set in the same
round trip that finds pg_trgm's schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

CANDIDATES = 1_000
"""Most candidate rows one check reads before keeping the oldest `limit`."""


@dataclass(frozen=True, slots=True)
class KeyCondition:
    """Stored key `column` compared with `key`; fuzzy at `threshold` (PostgreSQL)."""

    column: str
    key: str
    fuzzy: bool = False
    threshold: float = 0.6


def duplicate_ids(
    conn: sa.Connection, table: sa.Table, conditions: Sequence[KeyCondition], *,
    operator: str, exclude: Sequence[str] = (), limit: int = 20,
) -> list[str]:
    """Ids of rows matching all (`and`) or any (`or`) condition, oldest first, at most
    `limit`; none when there is no condition."""
    if not conditions:
        return []
    fuzzy = [condition.threshold for condition in conditions if condition.fuzzy]
    schema = _prepare_trigrams(conn, min(fuzzy)) if fuzzy else None
    parts: list[sa.ColumnElement[bool]] = []
    for condition in conditions:
        column = table.c[condition.column]
        if condition.fuzzy and schema is not None:
            similarity = getattr(sa.func, schema).similarity
            parts.append(sa.and_(
                column.op(f"OPERATOR({schema}.%)", is_comparison=True)(condition.key),
                similarity(column, condition.key) >= condition.threshold))
        else:
            parts.append(column == condition.key)
    where = sa.and_(*parts) if operator == "and" else sa.or_(*parts)
    if exclude:
        where = sa.and_(where, table.c.id.not_in(list(exclude)))
    # No ORDER BY in SQL: with one, PostgreSQL may walk the created_at index and filter
    # (seconds at 1M rows) instead of using the key indexes; a bounded set of candidates
    # is sorted here instead (a key shared by more than CANDIDATES rows is pathological).
    statement = sa.select(table.c.id, table.c.created_at).where(where).limit(CANDIDATES)
    found = sorted(conn.execute(statement).all(), key=lambda row: (row[1], row[0]))
    return [str(row_id) for row_id, _ in found[:limit]]


_TRIGRAM_SCHEMA = (
    "SELECT n.nspname{threshold} FROM pg_extension e "
    "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")


def _prepare_trigrams(conn: sa.Connection, threshold: float) -> str | None:
    """pg_trgm's schema (None: no trigram matching here), with the transaction's
    similarity threshold set to `threshold` when it is installed — one round trip."""
    if conn.dialect.name != "postgresql":
        return None
    found = conn.execute(sa.text(_TRIGRAM_SCHEMA.format(
        threshold=", set_config('pg_trgm.similarity_threshold', :threshold, true)")),
        {"threshold": str(threshold)}).first()
    return str(found[0]) if found is not None else None


def trigram_schema(conn: sa.Connection) -> str | None:
    """The schema pg_trgm is installed in (its functions and operators are qualified with
    it, so they work whatever the connection's search_path), or None: no trigram
    matching here (SQLite, or PostgreSQL without the extension)."""
    if conn.dialect.name != "postgresql":
        return None
    found = conn.execute(sa.text(_TRIGRAM_SCHEMA.format(threshold=""))).scalar_one_or_none()
    return str(found) if found is not None else None


def key_groups(
    conn: sa.Connection, table: sa.Table, column: str, *, limit: int, after: str | None = None,
) -> list[tuple[str, list[str]]]:
    """Keys of `column` shared by two or more rows, in key order after `after`, with the
    ids holding each (oldest first): a duplicate scan's exact groups, a page at a time."""
    key = table.c[column]
    shared = (sa.select(key).where(key.is_not(None))
              .group_by(key).having(sa.func.count() > 1).order_by(key).limit(limit))
    if after is not None:
        shared = shared.where(key > after)
    keys = list(conn.execute(shared).scalars())
    if not keys:
        return []
    rows = conn.execute(sa.select(key, table.c.id).where(key.in_(keys))
                        .order_by(key, table.c.created_at, table.c.id)).all()
    groups: dict[str, list[str]] = {}
    for value, row_id in rows:
        groups.setdefault(str(value), []).append(str(row_id))
    return list(groups.items())


