"""PostgreSQL's search index: full text in the `english` and `russian` configurations,
pg_trgm for typos.

Per search column two GIN indexes, both on expressions of the column (so PostgreSQL keeps
them on every write, and a new index is built from the rows already there):

* the column's document, `to_tsvector('english', d) || to_tsvector('russian', d)` where
  `d` is the value with every run of non-alphanumerics made a space (an e-mail address or
  a phone number is then several words) — a query word matches as a stemmed prefix in
  either language (`to_tsquery('english', 'word:*') || to_tsquery('russian', 'word:*')`);
* a trigram index of the column (when pg_trgm is installed, as for fuzzy duplicate rules)
  serving `term <% column` (word similarity) for typos.

A query is an AND over its words of an OR over the visible columns, which PostgreSQL
answers with bitmap AND/OR over those indexes — a field hidden from the caller is simply
not among the columns, and still no document of all fields has to be kept per caller.
Rank: `ts_rank` of each column's document, plus word similarity in the typo pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa

from metacrm.storage.duplicate_search import trigram_schema
from metacrm.storage.migration.match_keys import ensure_trigram_extension
from metacrm.storage.search_index import (
    PREFIX_WEIGHT,
    Ranking,
    column_weights,
    prefix_bonus,
)

PREFIX = "sx_"
"""The names of search indexes start with it (and nothing else's does)."""
TYPO_SIMILARITY = 0.5
"""`pg_trgm.word_similarity_threshold` of the typo pass: «contarct» finds «contract»."""
MIN_TYPO_LENGTH = 4
"""Shorter words are matched as prefixes only: a typo in three letters is another word."""
CONFIGURATIONS = ("english", "russian")


def index_name(kind: str, table: str, column: str) -> str:
    digest = hashlib.sha1(f"{kind}:{table}.{column}".encode(),
                          usedforsecurity=False).hexdigest()[:8]
    return f"{PREFIX}{kind}_{table}_{column}"[:54] + f"_{digest}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def document_sql(column_sql: str) -> str:
    """The tsvector expression of one column (the same text in index and query)."""
    text = f"regexp_replace(coalesce({column_sql}, ''), '[^[:alnum:]]+', ' ', 'g')"
    return " || ".join(f"to_tsvector('{config}'::regconfig, {text})"
                       for config in CONFIGURATIONS)


def _tsquery(term: str) -> sa.ColumnElement[object]:
    value = sa.literal(f"{term}:*", sa.Text)
    parts = [sa.func.to_tsquery(sa.literal_column(f"'{config}'::regconfig"), value)
             for config in CONFIGURATIONS]
    return parts[0].op("||")(parts[1])


class PostgresSearchIndex:
    """`SearchIndex` on PostgreSQL (see the module docstring)."""

    def __init__(self) -> None:
        self._typo_conn: sa.Connection | None = None
        self._schema: str | None = None

    def create(self, conn: sa.Connection, table: str, columns: Sequence[str]) -> None:
        schema = ensure_trigram_extension(conn)
        for column in columns:
            conn.execute(sa.text(
                f"CREATE INDEX {_quote(index_name('fts', table, column))} ON {_quote(table)} "
                f"USING gin (({document_sql(_quote(column))}))"))
            if schema is not None:
                conn.execute(sa.text(
                    f"CREATE INDEX {_quote(index_name('trg', table, column))} ON "
                    f"{_quote(table)} USING gin ({_quote(column)} {_quote(schema)}.gin_trgm_ops)"))

    def drop(self, conn: sa.Connection, table: str) -> None:
        for name in self._indexes(conn, table):
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {_quote(name)}"))

    def exists(self, conn: sa.Connection, table: str) -> bool:
        return bool(self._indexes(conn, table))

    def _indexes(self, conn: sa.Connection, table: str) -> list[str]:
        rows = conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :table AND starts_with(indexname, :prefix)"),
            {"table": table, "prefix": PREFIX}).scalars()
        return [str(name) for name in rows]

    def match(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
              terms: Sequence[str], *, typos: bool) -> sa.ColumnElement[bool]:
        schema = self._typo_schema(conn) if typos else None
        per_term = []
        for term in terms:
            query = _tsquery(term)
            arms: list[sa.ColumnElement[bool]] = []
            for column in columns:
                arms.append(self._document(table, column).op("@@", is_comparison=True)(query))
                if schema is not None and len(term) >= MIN_TYPO_LENGTH:
                    arms.append(sa.literal(term, sa.Text).op(
                        f"OPERATOR({schema}.<%)", is_comparison=True)(table.c[column]))
            per_term.append(sa.or_(*arms))
        return sa.and_(*per_term)

    def ranking(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
                terms: Sequence[str], *, typos: bool) -> Ranking:
        return Ranking(self._rank(conn, table, columns, terms, typos=typos))

    def _rank(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
              terms: Sequence[str], *, typos: bool) -> sa.ColumnElement[float]:
        query = _tsquery(terms[0])
        for term in terms[1:]:
            query = query.op("&&")(_tsquery(term))
        # ts_rank's normalisation 1: divided by 1 + log(length), so shorter values first
        scores: list[sa.ColumnElement[float]] = [
            weight * sa.func.ts_rank(self._document(table, column), query, 1)
            for column, weight in zip(columns, column_weights(columns), strict=True)]
        scores.append(PREFIX_WEIGHT * prefix_bonus(table, columns, terms))
        schema = self._typo_schema(conn) if typos else None
        if schema is not None:
            similarity = getattr(sa.func, schema).word_similarity
            scores.extend(similarity(sa.literal(" ".join(terms), sa.Text),
                                     sa.func.coalesce(table.c[column], ""))
                          for column in columns)
        total = scores[0]
        for score in scores[1:]:
            total = total + score
        return total

    def _document(self, table: sa.Table, column: str) -> sa.ColumnElement[object]:
        return sa.literal_column(f"({document_sql(_quote(table.name) + '.' + _quote(column))})")

    def _typo_schema(self, conn: sa.Connection) -> str | None:
        """pg_trgm's schema, with the typo threshold set for this connection's transaction
        (None: no pg_trgm here, so no typo matching); looked up once per adapter (one
        search), not once per entity and expression."""
        if self._typo_conn is not conn:
            self._schema = trigram_schema(conn)
            if self._schema is not None:
                conn.execute(sa.select(sa.func.set_config(
                    "pg_trgm.word_similarity_threshold", str(TYPO_SIMILARITY), True)))
            self._typo_conn = conn
        return self._schema
