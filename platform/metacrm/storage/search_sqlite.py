"""SQLite's search index: an FTS5 table per record table, kept by triggers.

`fts_<table>` holds, under the record's rowid, the Snowball stems of each search column
(`storage.search_text`, through the `metacrm_search_text` function every connection of
`storage.engine` has); three triggers keep it in step with inserts, updates and deletes,
whatever path writes. A query is `{visible columns}: "stem"* AND ...` (the column filter
leaves out fields hidden from the caller), ranked by bm25 (the FTS hits joined once).

Typos: FTS5 has no fuzzy match. The typo pass looks each word of 4+ letters up in the
index's own vocabulary (an `fts5vocab` table), among terms of the same first letter, and
adds the close ones (difflib's ratio ≥ 0.75) as alternatives of that word.

A table rebuilt by a migration (SQLite's ALTER TABLE cannot retype) loses its triggers
and may renumber its rows; `apply_plan` then rebuilds the index (`exists` is false).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.storage.search_index import PREFIX_WEIGHT, Ranking, prefix_bonus
from metacrm.storage.search_text import SQLITE_FUNCTION, close_words, stem

MIN_TYPO_LENGTH = 4
VOCABULARY_SCAN = 20_000
"""Most vocabulary terms (of one first letter) compared with a misspelt word."""


def fts_table(table: str) -> str:
    return f"fts_{table}"[:63]


def _vocabulary(table: str) -> str:
    return f"ftv_{table}"[:63]


def _trigger(table: str, event: str) -> str:
    return f"fts_{table}"[:59] + f"_{event}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteSearchIndex:
    """`SearchIndex` on SQLite (see the module docstring)."""

    def create(self, conn: sa.Connection, table: str, columns: Sequence[str]) -> None:
        fts, source = _quote(fts_table(table)), _quote(table)
        names = ", ".join(_quote(c) for c in columns)
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, "
            f"tokenize='unicode61 remove_diacritics 2')")
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {_quote(_vocabulary(table))} USING fts5vocab("
            f"{_quote(fts_table(table))}, 'row')")

        def values(row: str) -> str:
            return ", ".join(f"{SQLITE_FUNCTION}({row}.{_quote(c)})" for c in columns)

        # Identifiers only, quoted (`_quote`): table and column names from the metadata.
        insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.rowid, {values('new')});"  # noqa: S608
        delete = f"DELETE FROM {fts} WHERE rowid = old.rowid;"  # noqa: S608
        for event, when, body in (("ai", "AFTER INSERT", insert),
                                  ("ad", "AFTER DELETE", delete),
                                  ("au", "AFTER UPDATE", delete + " " + insert)):
            conn.exec_driver_sql(
                f"CREATE TRIGGER {_quote(_trigger(table, event))} {when} ON {source} "
                f"BEGIN {body} END")
        conn.exec_driver_sql(
            f"INSERT INTO {fts}(rowid, {names}) "  # noqa: S608 - quoted identifiers
            f"SELECT rowid, {values(source)} FROM {source}")

    def drop(self, conn: sa.Connection, table: str) -> None:
        for event in ("ai", "ad", "au"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_quote(_trigger(table, event))}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_quote(_vocabulary(table))}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_quote(fts_table(table))}")

    def exists(self, conn: sa.Connection, table: str) -> bool:
        found = conn.execute(sa.text(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
            "(:ai, :ad, :au)"), {e: _trigger(table, e) for e in ("ai", "ad", "au")})
        return bool(found.scalar_one() == 3)

    def match(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
              terms: Sequence[str], *, typos: bool) -> sa.ColumnElement[bool]:
        fts = _quote(fts_table(table.name))
        rowids: sa.Select[Any] = sa.select(sa.literal_column("rowid")).select_from(
            sa.text(fts)).where(sa.literal_column(fts).op("MATCH")(
                self._expression(conn, table.name, columns, terms, typos=typos)))
        return sa.literal_column(f"{_quote(table.name)}.rowid").in_(rowids.scalar_subquery())

    def ranking(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
                terms: Sequence[str], *, typos: bool) -> Ranking:
        fts = _quote(fts_table(table.name))
        expression = self._expression(conn, table.name, columns, terms, typos=typos)
        hits = sa.select(
            sa.literal_column("rowid").label("hit_rowid"),
            sa.literal_column(f"-bm25({fts})").label("hit_score"),
        ).select_from(sa.text(fts)).where(
            sa.literal_column(fts).op("MATCH")(expression)).subquery("search_hits")
        rank = hits.c.hit_score + PREFIX_WEIGHT * prefix_bonus(table, columns, terms)
        on = sa.literal_column(f"{_quote(table.name)}.rowid") == hits.c.hit_rowid
        return Ranking(rank, hits, on)

    def _expression(self, conn: sa.Connection, table: str, columns: Sequence[str],
                    terms: Sequence[str], *, typos: bool) -> str:
        parts = []
        for term in terms:
            stemmed = stem(term)
            options = [_phrase(stemmed) + "*"]
            if typos and len(term) >= MIN_TYPO_LENGTH:
                options.extend(_phrase(close) for close in self._close(conn, table, stemmed))
            parts.append("(" + " OR ".join(options) + ")")
        return "{" + " ".join(_quote(c) for c in columns) + "}: (" + " AND ".join(parts) + ")"

    def _close(self, conn: sa.Connection, table: str, stemmed: str) -> list[str]:
        first = stemmed[0]
        candidates = conn.execute(sa.text(
            f"SELECT term FROM {_quote(_vocabulary(table))} "  # noqa: S608 - quoted identifier
            f"WHERE term >= :low AND term < :high "
            f"LIMIT {VOCABULARY_SCAN}"), {"low": first, "high": chr(ord(first) + 1)}).scalars()
        return close_words(stemmed, [str(c) for c in candidates])
