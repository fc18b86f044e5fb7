"""PostgreSQL's word list of a searched table: the distinct words of its search columns,
kept by a trigger, for the typo pass of `storage.search_postgres`.

Matching a misspelling against the records themselves (pg_trgm over the column) rechecks
every row that shares trigrams with it — the 21,000 «Johnson» rows at a million records
for «Jonhson». The words are far fewer than the rows: the typo pass looks the misspelt word
up here (trigram similarity narrows the candidates, `search_text.close_words` picks the
close ones, by the word and by its stem, as SQLite's vocabulary lookup does), then
searches the records for those words exactly, through the documents' GIN indexes.

`sx_words_<table>` holds (column, word) pairs: the lower-cased runs of letters (as the
documents cut them) of 3+ characters. A run with a digit (a number, a code, the local
part of an e-mail address) is matched as typed, not as a misspelling: such runs would
make most of a million-record list (one per e-mail address) and, sharing trigrams by
the thousand (`smith14`, `smith21`, …), most of a lookup's candidates. Statement-level triggers add
the words of inserted and updated rows (`ON CONFLICT DO NOTHING`: no row lock on a word
already listed, so saves of records sharing a word do not queue behind each other's
commits). Words of deleted or changed values stay until `metacrm search reindex` builds
the list again: a stale word only costs the typo pass an exact lookup that finds nothing.
The list is not a source of results — the records are still matched through their
documents, with the caller's scope and visible columns — so a word from a hidden field or
another user's record finds nothing the caller may not find.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa

from metacrm.storage.search_text import close_words, stem

PREFIX = "sx_"
MIN_WORD_LENGTH = 3
CANDIDATES = 50
"""Most trigram-similar words compared (best first) with a misspelt word."""
CANDIDATE_SIMILARITY = 0.3
"""`pg_trgm.similarity_threshold` of the candidate lookup: loose, `close_words` decides."""


def _name(kind: str, table: str) -> str:
    digest = hashlib.sha1(f"{kind}:{table}".encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{PREFIX}{kind}_{table}"[:54] + f"_{digest}"


def words_table(table: str) -> str:
    """The name of `table`'s word list."""
    return _name("words", table)


def _function(table: str) -> str:
    return _name("wfn", table)


def _trigger(table: str, event: str) -> str:
    return _name(f"w{event}", table)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _words_of(source: str, columns: Sequence[str]) -> str:
    """SELECT of the distinct (column, word) pairs of `source`'s rows, sorted (a fixed
    order in which concurrent saves take the unique index's locks)."""
    # Identifiers from the metadata, quoted (`_quote`), and their names as quoted literals.
    arms = " UNION ".join(
        f"SELECT {_literal(column)} AS col, w AS word FROM {source}, "  # noqa: S608
        f"regexp_split_to_table(lower({_quote(column)}), '[^[:alnum:]]+') AS w"
        for column in columns)
    return (f"SELECT DISTINCT col, word FROM ({arms}) AS words "  # noqa: S608
            f"WHERE length(word) >= {MIN_WORD_LENGTH} AND word !~ '[[:digit:]]' "
            f"ORDER BY col, word")


def create(conn: sa.Connection, table: str, columns: Sequence[str],
           trigram_schema: str | None) -> None:
    """Build `table`'s word list from its rows and the triggers that keep it."""
    words = _quote(words_table(table))
    conn.execute(sa.text(
        f"CREATE TABLE {words} (col text NOT NULL, word text NOT NULL, "
        f"PRIMARY KEY (col, word))"))
    conn.execute(sa.text(
        f"INSERT INTO {words} (col, word) {_words_of(_quote(table), columns)}"))
    if trigram_schema is not None:
        conn.execute(sa.text(
            f"CREATE INDEX {_quote(_name('wtrg', table))} ON {words} "
            f"USING gin (word {_quote(trigram_schema)}.gin_trgm_ops)"))
    function = _quote(_function(table))
    conn.execute(sa.text(
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN "
        f"INSERT INTO {words} (col, word) {_words_of('new_rows', columns)} "
        f"ON CONFLICT DO NOTHING; RETURN NULL; END $body$"))
    for event in ("INSERT", "UPDATE"):
        conn.execute(sa.text(
            f"CREATE TRIGGER {_quote(_trigger(table, event[0].lower()))} AFTER {event} "
            f"ON {_quote(table)} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"))


def drop(conn: sa.Connection, table: str) -> None:
    """Remove `table`'s word list and its triggers (nothing when it has none)."""
    for event in ("i", "u"):
        conn.execute(sa.text(
            f"DROP TRIGGER IF EXISTS {_quote(_trigger(table, event))} ON {_quote(table)}"))
    conn.execute(sa.text(f"DROP FUNCTION IF EXISTS {_quote(_function(table))}()"))
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {_quote(words_table(table))}"))


def exists(conn: sa.Connection, table: str) -> bool:
    """Whether `table` has its word list (a table indexed before lists were kept has not)."""
    return conn.execute(sa.text("SELECT to_regclass(:name) IS NOT NULL"),
                        {"name": _quote(words_table(table))}).scalar_one() is True


def close(conn: sa.Connection, table: str, columns: Sequence[str], term: str,
          trigram_schema: str) -> list[str]:
    """Words of `columns` close to the misspelt `term` or whose stem is close to its stem
    (`search_text.close_words`), not those it already starts (the prefix pass found
    those)."""
    similar = getattr(sa.func, trigram_schema).similarity  # pg_trgm's, schema-qualified
    words = sa.table(words_table(table), sa.column("col", sa.Text), sa.column("word", sa.Text))
    term_value = sa.literal(term, sa.Text)
    candidates = conn.execute(
        sa.select(words.c.word)
        .where(words.c.col.in_(list(columns)),
               words.c.word.op(f"OPERATOR({_quote(trigram_schema)}.%)",
                               is_comparison=True)(term_value))
        .order_by(similar(words.c.word, term_value).desc(), words.c.word)
        .limit(CANDIDATES)).scalars()
    distinct = list(dict.fromkeys(str(word) for word in candidates))
    by_stem: dict[str, list[str]] = {}
    for word in distinct:
        by_stem.setdefault(stem(word), []).append(word)
    # an inflected word is compared by its stem too («продлении» ~ «продлить»: «продлен»,
    # «продл»), as SQLite's index of stems is
    chosen = close_words(term, distinct) + [
        word for close_stem in close_words(stem(term), list(by_stem))
        for word in by_stem[close_stem]]
    return [word for word in dict.fromkeys(chosen) if not word.startswith(term)]
