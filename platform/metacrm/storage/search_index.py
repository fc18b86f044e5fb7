"""The `SearchIndex` port: ranked, typo-tolerant prefix search over an entity's search
fields, kept in step with the records by the database itself.

Global search (`services.records.global_search`) — and later the knowledge base — asks the port for
two SQL expressions on an entity's table: a condition (the records matching every word of
the query, each word a prefix, in any of the given columns) and a rank (higher is better).
The access layer ANDs its read scope into the condition and passes only the columns of
fields the caller may see, so access and field security stay inside the one query.

Two adapters: PostgreSQL full text (`storage.search_postgres`: `english` and `russian`
stems, GIN indexes, pg_trgm for typos) and SQLite FTS5 (`storage.search_sqlite`: Snowball
stems, bm25, close terms of the index's vocabulary for typos). Both keep their index by
the database (a generated column; FTS5 triggers), so no save path has to remember it;
the migration plan creates and rebuilds them when an entity's search fields change.
SQLite's bm25 exists only inside the FTS query, so a rank may come with a join
(`Ranking`): the FTS hits joined to the table once, not a MATCH per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef

UNSEARCHABLE_TYPES = frozenset({"multi_picklist"})
PREFIX_WEIGHT = 10.0
"""How much a value starting with the query's first word outweighs the text score."""


class SearchIndex(Protocol):
    """One database's full-text index of record tables (see the module docstring)."""

    def create(self, conn: sa.Connection, table: str, columns: Sequence[str]) -> None:
        """Index `columns` of `table`, rows already there included."""
        ...

    def drop(self, conn: sa.Connection, table: str) -> None:
        """Remove the table's search index (nothing when it has none)."""
        ...

    def exists(self, conn: sa.Connection, table: str) -> bool:
        """Whether the table's search index is in place and kept up to date."""
        ...

    def match(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
              terms: Sequence[str], *, typos: bool) -> sa.ColumnElement[bool]:
        """Rows where every term starts a word of one of `columns` (stemmed); with
        `typos`, a term may also be a close misspelling of such a word."""
        ...

    def ranking(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
                terms: Sequence[str], *, typos: bool) -> Ranking:
        """How well a matching row matches (higher first), and what to join for it."""
        ...


@dataclass(frozen=True, slots=True)
class Ranking:
    """The rank of matching rows: an expression on the table, or on `join` (an index's
    own hits, joined on `on`) when the rank can only be computed inside the index."""

    rank: sa.ColumnElement[float]
    join: sa.FromClause | None = None
    on: sa.ColumnElement[bool] | None = None


def search_field_columns(entity: EntityDef, registry: FieldTypeRegistry) -> dict[str, str]:
    """Search field -> the column the index covers for it: the main column of each search
    field that holds text (in `search_fields` order)."""
    columns: dict[str, str] = {}
    for name in entity.search_fields:
        fdef = entity.field(name)
        if fdef is None or fdef.type in UNSEARCHABLE_TYPES:
            continue
        spec = registry.get(fdef.type).columns(fdef)[0]
        if isinstance(spec.type, sa.String) and spec.name not in columns.values():
            columns[name] = spec.name
    return columns


def search_columns(entity: EntityDef, registry: FieldTypeRegistry) -> tuple[str, ...]:
    """The columns an entity's search index covers (`search_field_columns`)."""
    return tuple(search_field_columns(entity, registry).values())


def search_index_for(conn: sa.Connection | sa.Engine) -> SearchIndex:
    """The adapter of the connection's database."""
    if conn.dialect.name == "postgresql":
        from metacrm.storage.search_postgres import PostgresSearchIndex

        return PostgresSearchIndex()
    from metacrm.storage.search_sqlite import SqliteSearchIndex

    return SqliteSearchIndex()


def column_weights(columns: Sequence[str]) -> list[float]:
    """A match in an earlier search field counts more (the first is usually the title)."""
    return [1.0 / (position + 1) for position in range(len(columns))]


def prefix_bonus(table: sa.Table, columns: Sequence[str],
                 terms: Sequence[str]) -> sa.ColumnElement[float]:
    """Ranks a value that starts with the query's first word above one that merely holds
    it (weighted by column, `column_weights`): «Acme Corp» before «The Acme Shop»."""
    pattern = terms[0].replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
    bonus: sa.ColumnElement[float] = sa.literal(0.0)
    for column, weight in zip(columns, column_weights(columns), strict=True):
        bonus = bonus + sa.case(
            (sa.func.lower(table.c[column]).like(pattern, escape="\\"), weight), else_=0.0)
    return bonus
