"""PostgreSQL's word list for the typo pass (`storage.search_words`): kept by the database
on every save, looked up per visible column, and added to a database indexed before lists
were kept without losing typo matching meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from metacrm.storage import search_words
from metacrm.storage.search_postgres import TRIGRAM_INDEX, PostgresSearchIndex, index_name
from web_harness import apply_metadata

LABEL = {"en": "x", "ru": "x"}
COMPANY = {"kind": "entity", "name": "company", "version": 1, "label": LABEL,
           "fields": [{"name": "name", "type": "text", "label": LABEL},
                      {"name": "note", "type": "text", "label": LABEL}],
           "search_fields": ["name", "note"]}
TABLE = "crm_company"
OLD_TRIGRAMS = index_name(TRIGRAM_INDEX, TABLE, "name")


def company_table() -> sa.Table:
    return sa.Table(TABLE, sa.MetaData(), sa.Column("id", sa.String),
                    sa.Column("name", sa.String), sa.Column("note", sa.String),
                    sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime),
                    sa.Column("version", sa.Integer))


def add(conn: sa.Connection, table: sa.Table, **values: str) -> None:
    now = datetime.now(UTC)
    conn.execute(table.insert().values(created_at=now, updated_at=now, version=1, **values))


def listed(conn: sa.Connection) -> set[tuple[str, str]]:
    rows = conn.execute(sa.text(
        f'SELECT col, word FROM "{search_words.words_table(TABLE)}"'))
    return {(str(col), str(word)) for col, word in rows}


def misspelt(conn: sa.Connection, table: sa.Table, columns: list[str], word: str) -> list[str]:
    """Ids found by the typo pass for `word` (a query's words come case-folded) in
    `columns`."""
    match = PostgresSearchIndex().match(conn, table, columns, [word], typos=True)
    return sorted(str(row) for row in conn.execute(sa.select(table.c.id).where(match)).scalars())


def test_saves_keep_the_word_list_the_typo_pass_searches(postgres_engine: sa.Engine) -> None:
    apply_metadata(postgres_engine.url.render_as_string(hide_password=False), [COMPANY])
    table = company_table()
    with postgres_engine.begin() as conn:
        add(conn, table, id="c1", name="Umbrella Pharmaceuticals", note="Vaccines, 2026")
        add(conn, table, id="c2", name="Contoso")
    with postgres_engine.begin() as conn:
        assert {("name", "umbrella"), ("name", "pharmaceuticals"), ("note", "vaccines"),
                ("name", "contoso")} <= listed(conn)
        add(conn, table, id="c4", name="Smith14 x1000")
        # numbers and codes are matched as typed, not listed as words to misspell
        assert not {word for _column, word in listed(conn)} & {"2026", "smith14", "x1000"}
        conn.execute(table.update().where(table.c.id == "c2").values(name="Northwind Traders"))
    with postgres_engine.begin() as conn:
        assert ("name", "northwind") in listed(conn)
        assert misspelt(conn, table, ["name", "note"], "umbrela") == ["c1"]
        assert misspelt(conn, table, ["name", "note"], "pharmaceutcals") == ["c1"]
        assert misspelt(conn, table, ["name", "note"], "nortwhind") == ["c2"]
        # a column the caller may not see is not searched, its words not looked up either
        assert misspelt(conn, table, ["name"], "vacines") == []
        assert misspelt(conn, table, ["name", "note"], "vacines") == ["c1"]
        assert misspelt(conn, table, ["name", "note"], "zzzzzz") == []
        sql = str(PostgresSearchIndex().match(conn, table, ["name"], ["umbrela"], typos=True)
                  .compile(dialect=conn.dialect))
        assert "<%" not in sql  # the records' trigram index is not rechecked


def test_an_index_without_a_word_list_finds_typos_until_a_migration_adds_the_list(
    postgres_engine: sa.Engine,
) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    by_name = {**COMPANY, "search_fields": ["name"]}
    apply_metadata(url, [by_name])
    table = company_table()
    with postgres_engine.begin() as conn:
        add(conn, table, id="c1", name="Umbrella Pharmaceuticals")
        add(conn, table, id="c3", name="Umbrella Logistics")  # a word of two records
        # as indexed by the version before word lists: a trigram index of each column
        search_words.drop(conn, TABLE)
        conn.execute(sa.text(f'CREATE INDEX "{OLD_TRIGRAMS}" ON {TABLE} '
                             f'USING gin (name public.gin_trgm_ops)'))
    with postgres_engine.begin() as conn:
        assert not search_words.exists(conn, TABLE)
        assert misspelt(conn, table, ["name"], "umbrela") == ["c1", "c3"]
    with_phone = {**by_name, "fields": [
        *by_name["fields"], {"name": "phone", "type": "text", "label": LABEL}]}
    apply_metadata(url, [with_phone])
    with postgres_engine.begin() as conn:
        assert search_words.exists(conn, TABLE)
        assert ("name", "umbrella") in listed(conn)  # the rows already there
        assert not conn.execute(sa.text("SELECT to_regclass(:name) IS NOT NULL"),
                                {"name": f'"{OLD_TRIGRAMS}"'}).scalar_one()
        assert misspelt(conn, table, ["name"], "umbrela") == ["c1", "c3"]
        add(conn, table, id="c2", name="Globex Corporation")
        assert misspelt(conn, table, ["name"], "globx") == ["c2"]
