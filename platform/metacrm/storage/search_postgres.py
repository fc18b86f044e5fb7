"""PostgreSQL's search index: full text in the `english` and `russian` configurations,
pg_trgm for typos.

Per search column a stored generated `tsvector` column (its document) with a GIN index;
per table a word list of the search columns for typos:

* the document is `to_tsvector('english', d) || to_tsvector('russian', d)` where `d` is the
  value with every run of non-alphanumerics made a space (an e-mail address or a phone
  number is then several words) — a query word matches as a stemmed prefix in either
  language (`to_tsquery('english', 'word:*') || to_tsquery('russian', 'word:*')`). Stored,
  because an expression index costs twice at a million rows: the planner matches every
  query expression against the index expressions, and `ts_rank` recomputes the vectors of
  the ranked rows; a column is read, not computed. PostgreSQL fills it on every write, and
  on the rows already there when it is added;
* the typo pass (when pg_trgm is installed, as for fuzzy duplicate rules) looks a
  misspelt word up in the table's word list (`storage.search_words`, kept by a trigger)
  and searches the close words it finds exactly, through the documents; a table indexed
  before word lists were kept uses the column's trigram index (`term <% column`) until
  the next migration adds its list (`add_word_list`).

A query is an AND over its words of an OR over the visible columns, which PostgreSQL
answers with bitmap AND/OR over those indexes — a field hidden from the caller is simply
not among the columns, and still no document of all fields has to be kept per caller.
Rank: `ts_rank` of each column's document, plus word similarity in the typo pass.

A table indexed by an earlier version (expression indexes, no document columns) counts as
not indexed (`exists`), so the next migration or `metacrm search reindex` rebuilds it;
until then its columns are searched through the same expressions, which its old indexes
still serve.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa

from metacrm.storage import search_words
from metacrm.storage.migration.match_keys import ensure_trigram_extension
from metacrm.storage.search_index import (
    PREFIX_WEIGHT,
    Ranking,
    column_weights,
    prefix_bonus,
)

PREFIX = "sx_"
"""The names of search indexes and document columns start with it (nothing else's do)."""
DOCUMENT_INDEX = "doc"
"""The kind in the name of a document column's index (`index_name`): a table with one is
indexed the current way."""
TYPO_SIMILARITY = 0.5
"""`pg_trgm.word_similarity_threshold` of the typo pass: «contarct» finds «contract»."""
MIN_TYPO_LENGTH = 4
"""Shorter words are matched as prefixes only: a typo in three letters is another word."""
TRIGRAM_INDEX = "trg"
"""The kind in the name of a column's trigram index, which earlier versions built for the
typo pass (a table without a word list still uses it)."""
CONFIGURATIONS = ("english", "russian")
SEARCH_PAGE_COST = 1.1
"""`random_page_cost` of a search's transaction: record pages are in memory, not a disk
seek away (`PostgresSearchIndex._table_catalog`)."""


def index_name(kind: str, table: str, column: str) -> str:
    digest = hashlib.sha1(f"{kind}:{table}.{column}".encode(),
                          usedforsecurity=False).hexdigest()[:8]
    return f"{PREFIX}{kind}_{table}_{column}"[:54] + f"_{digest}"


def document_column(column: str) -> str:
    """The name of the generated column holding `column`'s document."""
    digest = hashlib.sha1(f"document:{column}".encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{PREFIX}{column}"[:54] + f"_{digest}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def document_sql(column_sql: str) -> str:
    """The tsvector expression of one column (what its document column holds)."""
    text = f"regexp_replace(coalesce({column_sql}, ''), '[^[:alnum:]]+', ' ', 'g')"
    return " || ".join(f"to_tsvector('{config}'::regconfig, {text})"
                       for config in CONFIGURATIONS)


def _tsquery(term: str) -> sa.ColumnElement[object]:
    """The word as a prefix in either configuration, with one operand when one covers
    the other — GIN looks up each prefix operand on its own, so a redundant one doubles
    the work for the same rows: a Latin word stems alike in both (the Russian
    configuration stems it in English), and the Russian stem of a Cyrillic word starts the
    word the English configuration leaves whole («смирнов:*» covers «смирнова:*»).
    PostgreSQL folds the whole expression to a constant when it plans the statement."""
    value = sa.literal(f"{term}:*", sa.Text)
    english, russian = (sa.func.to_tsquery(sa.literal_column(f"'{config}'::regconfig"), value)
                        for config in CONFIGURATIONS)
    single = sa.and_(sa.func.numnode(english) == 1, sa.func.numnode(russian) == 1)
    english_text, russian_text = sa.cast(english, sa.Text), sa.cast(russian, sa.Text)
    either: sa.ColumnElement[object] = sa.case(
        (english.op("=", is_comparison=True)(russian), english),
        # `'stem':*` as text: the stem without its closing `':*` starts the other
        (sa.and_(single, sa.func.starts_with(english_text, sa.func.left(russian_text, -3))),
         russian),
        else_=english.op("||")(russian))
    return either


def _exact_tsquery(words: Sequence[str]) -> sa.ColumnElement[object]:
    """Any of `words` (letters and digits only) as a whole stemmed word, either language."""
    text = sa.literal(" | ".join(words), sa.Text)
    english, russian = (sa.func.to_tsquery(sa.literal_column(f"'{config}'::regconfig"), text)
                        for config in CONFIGURATIONS)
    return english.op("||")(russian)


class PostgresSearchIndex:
    """`SearchIndex` on PostgreSQL (see the module docstring)."""

    def __init__(self) -> None:
        self._catalog: dict[str, tuple[str | None, frozenset[str], bool]] = {}
        self._close: dict[tuple[str, tuple[str, ...], str], list[str]] = {}

    def create(self, conn: sa.Connection, table: str, columns: Sequence[str]) -> None:
        schema = ensure_trigram_extension(conn)
        conn.execute(sa.text(f"ALTER TABLE {_quote(table)} " + ", ".join(
            f"ADD COLUMN {_quote(document_column(column))} tsvector "
            f"GENERATED ALWAYS AS ({document_sql(_quote(column))}) STORED"
            for column in columns)))
        for column in columns:
            conn.execute(sa.text(
                f"CREATE INDEX {_quote(index_name(DOCUMENT_INDEX, table, column))} ON "
                f"{_quote(table)} USING gin ({_quote(document_column(column))})"))
        search_words.create(conn, table, columns, schema)
        self._catalog.pop(table, None)

    def add_word_list(self, conn: sa.Connection, table: str, columns: Sequence[str]) -> bool:
        """Give a table indexed before word lists were kept its list (no table rewrite:
        one read of the search columns) in place of its columns' trigram indexes, which
        only the typo pass without a list used; False when it has a list already."""
        if search_words.exists(conn, table):
            return False
        search_words.create(conn, table, columns, ensure_trigram_extension(conn))
        for column in columns:
            conn.execute(sa.text(
                f"DROP INDEX IF EXISTS {_quote(index_name(TRIGRAM_INDEX, table, column))}"))
        self._catalog.pop(table, None)
        return True

    def drop(self, conn: sa.Connection, table: str) -> None:
        search_words.drop(conn, table)
        for name in self._indexes(conn, table):
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {_quote(name)}"))
        for column in self.documents(conn, table):
            conn.execute(sa.text(
                f"ALTER TABLE {_quote(table)} DROP COLUMN IF EXISTS {_quote(column)}"))
        self._catalog.pop(table, None)

    def exists(self, conn: sa.Connection, table: str) -> bool:
        kind = f"{PREFIX}{DOCUMENT_INDEX}_"
        return any(name.startswith(kind) for name in self._indexes(conn, table))

    def earlier_version(self, conn: sa.Connection, table: str) -> bool:
        """Whether `table` is indexed the way an earlier version did it (expression
        indexes, no document column): it still searches, and only `metacrm search
        reindex` converts it — converting rewrites the table, which a migration of some
        other change must not do by surprise."""
        return bool(self._indexes(conn, table)) and not self.exists(conn, table)

    def _indexes(self, conn: sa.Connection, table: str) -> list[str]:
        rows = conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :table AND starts_with(indexname, :prefix)"),
            {"table": table, "prefix": PREFIX}).scalars()
        return [str(name) for name in rows]

    def documents(self, conn: sa.Connection, table: str) -> frozenset[str]:
        """The table's generated document columns (`document_column`)."""
        rows = conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :table "
            "AND is_generated = 'ALWAYS' AND starts_with(column_name, :prefix)"),
            {"table": table, "prefix": PREFIX}).scalars()
        return frozenset(str(name) for name in rows)

    def match(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
              terms: Sequence[str], *, typos: bool) -> sa.ColumnElement[bool]:
        schema = self._typo_schema(conn, table.name) if typos else None
        listed = schema is not None and self._table_catalog(conn, table.name)[2]
        per_term = []
        for term in terms:
            query = self._term_query(conn, table.name, columns, term, typos=typos)
            arms: list[sa.ColumnElement[bool]] = []
            for column in columns:
                arms.append(self._document(conn, table, column).op(
                    "@@", is_comparison=True)(query))
                if schema is not None and not listed and len(term) >= MIN_TYPO_LENGTH:
                    arms.append(sa.literal(term, sa.Text).op(
                        f"OPERATOR({schema}.<%)", is_comparison=True)(table.c[column]))
            per_term.append(sa.or_(*arms))
        return sa.and_(*per_term)

    def ranking(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
                terms: Sequence[str], *, typos: bool) -> Ranking:
        return Ranking(self._rank(conn, table, columns, terms, typos=typos))

    def _rank(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
              terms: Sequence[str], *, typos: bool) -> sa.ColumnElement[float]:
        query = self._term_query(conn, table.name, columns, terms[0], typos=typos)
        for term in terms[1:]:
            query = query.op("&&")(self._term_query(conn, table.name, columns, term,
                                                    typos=typos))
        # ts_rank's normalisation 1: divided by 1 + log(length), so shorter values first
        scores: list[sa.ColumnElement[float]] = [
            weight * sa.func.ts_rank(self._document(conn, table, column), query, 1)
            for column, weight in zip(columns, column_weights(columns), strict=True)]
        scores.append(PREFIX_WEIGHT * prefix_bonus(table, columns, terms))
        schema = self._typo_schema(conn, table.name) if typos else None
        if schema is not None:
            similarity = getattr(sa.func, schema).word_similarity
            scores.extend(similarity(sa.literal(" ".join(terms), sa.Text),
                                     sa.func.coalesce(table.c[column], ""))
                          for column in columns)
        total = scores[0]
        for score in scores[1:]:
            total = total + score
        return total

    def _term_query(self, conn: sa.Connection, table: str, columns: Sequence[str],
                    term: str, *, typos: bool) -> sa.ColumnElement[object]:
        """The tsquery of one word: a prefix, or in the typo pass with a word list also
        the listed words close to it (`storage.search_words`), matched whole."""
        query = _tsquery(term)
        if not typos or len(term) < MIN_TYPO_LENGTH:
            return query
        schema, _documents, listed = self._table_catalog(conn, table)
        if schema is None or not listed:
            return query
        key = (table, tuple(columns), term)
        if key not in self._close:
            self._close[key] = search_words.close(conn, table, columns, term, schema)
        close = self._close[key]
        return query.op("||")(_exact_tsquery(close)) if close else query

    def _document(self, conn: sa.Connection, table: sa.Table,
                  column: str) -> sa.ColumnElement[object]:
        """The column's document: its generated column, or (a table not yet reindexed
        since documents were stored) the expression the old index was built on."""
        stored = document_column(column)
        if stored in self._table_catalog(conn, table.name)[1]:
            return sa.literal_column(f"{_quote(table.name)}.{_quote(stored)}")
        return sa.literal_column(f"({document_sql(_quote(table.name) + '.' + _quote(column))})")

    def _table_catalog(self, conn: sa.Connection,
                       table: str) -> tuple[str | None, frozenset[str], bool]:
        """pg_trgm's schema (None: not installed), the table's document columns and whether
        it has a word list, read in one round trip once per adapter (one search) and table.

        The same round trip sets, for the rest of the transaction, the typo pass's
        thresholds and `random_page_cost` SEARCH_PAGE_COST: with the default (4, a
        disk seek) the planner ANDs a selective read scope (a rep's own records: the owner
        index) with the GIN bitmaps of every word, which for a common word costs more than
        reading the scope's rows and testing their stored documents."""
        if table not in self._catalog:
            row = conn.execute(sa.text(
                "SELECT (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'), "
                "ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:table) "
                "AND attgenerated = 's' AND NOT attisdropped "
                "AND starts_with(attname, :prefix)), "
                "set_config('random_page_cost', :page_cost, true), "
                "set_config('pg_trgm.word_similarity_threshold', :similarity, true), "
                "set_config('pg_trgm.similarity_threshold', :candidates, true), "
                "to_regclass(:words) IS NOT NULL"),
                {"table": _quote(table), "prefix": PREFIX,
                 "page_cost": str(SEARCH_PAGE_COST),
                 "similarity": str(TYPO_SIMILARITY),
                 "candidates": str(search_words.CANDIDATE_SIMILARITY),
                 "words": _quote(search_words.words_table(table))}).one()
            self._catalog[table] = (None if row[0] is None else str(row[0]),
                                    frozenset(str(name) for name in row[1] or ()),
                                    bool(row[5]))
        return self._catalog[table]

    def _typo_schema(self, conn: sa.Connection, table: str) -> str | None:
        """pg_trgm's schema, the typo threshold set for this transaction (None: no pg_trgm
        here, so no typo matching)."""
        return self._table_catalog(conn, table)[0]
