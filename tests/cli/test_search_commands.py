"""`metacrm search reindex`: the search index of record tables built again on demand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from metacrm.cli.main import main
from metacrm.storage.engine import create_database_engine
from metacrm.storage.search_index import search_index_for
from metacrm.storage.search_postgres import (
    PostgresSearchIndex,
    document_column,
    document_sql,
    index_name,
)
from web_harness import apply_metadata

COMPANY = {"kind": "entity", "name": "company", "version": 1,
           "label": {"en": "Company", "ru": "Компания"},
           "fields": [{"name": "name", "type": "text", "label": {"en": "Name", "ru": "Название"}}],
           "search_fields": ["name"]}


def test_reindex_restores_a_lost_index_and_refuses_unknown_entities(
    tmp_path: Path, isolated_database_url: str
) -> None:
    apply_metadata(isolated_database_url, [COMPANY])
    engine = create_database_engine(isolated_database_url)
    table = "crm_company"
    try:
        index = search_index_for(engine)
        with engine.begin() as conn:
            assert index.exists(conn, table)
            index.drop(conn, table)
        env = {"METACRM_DATABASE_URL": isolated_database_url,
               "METACRM_INSTANCE_PATH": str(tmp_path / "instance")}
        runner = CliRunner()
        done = runner.invoke(main, ["search", "reindex"], env=env)
        assert done.exit_code == 0, done.output
        assert "Rebuilt the search index of 1 entity." in done.output
        with engine.connect() as conn:
            assert index.exists(conn, table)
        refused = runner.invoke(main, ["search", "reindex", "nothing"], env=env)
        assert refused.exit_code == 2
        assert "no such entity: nothing" in refused.output
    finally:
        engine.dispose()


def test_reindex_brings_an_index_of_an_earlier_version_up_to_date(
    tmp_path: Path, postgres_engine: sa.Engine
) -> None:
    # Earlier versions indexed PostgreSQL tables with expression indexes; such a table is
    # still searched (through the same expressions) until `reindex` stores the documents.
    # A migration of some other change leaves it alone: converting rewrites the table.
    url = postgres_engine.url.render_as_string(hide_password=False)
    apply_metadata(url, [COMPANY])
    index = PostgresSearchIndex()
    table = sa.Table("crm_company", sa.MetaData(), sa.Column("id", sa.String),
                     sa.Column("name", sa.String), sa.Column("created_at", sa.DateTime),
                     sa.Column("updated_at", sa.DateTime), sa.Column("version", sa.Integer))
    now = datetime.now(UTC)
    with postgres_engine.begin() as conn:
        conn.execute(table.insert().values(id="c1", name="Northwind Traders", created_at=now,
                                           updated_at=now, version=1))
        index.drop(conn, "crm_company")
        conn.execute(sa.text(
            f"CREATE INDEX {index_name('fts', 'crm_company', 'name')} ON crm_company "
            f"USING gin (({document_sql('name')}))"))
    with postgres_engine.connect() as conn:
        assert not index.exists(conn, "crm_company")
        assert found(conn, table, "northw") == ["c1"]
    with_phone = {**COMPANY, "fields": [
        *COMPANY["fields"],
        {"name": "phone", "type": "text", "label": {"en": "Phone", "ru": "Телефон"}}]}
    apply_metadata(url, [with_phone])
    with postgres_engine.connect() as conn:
        assert index.earlier_version(conn, "crm_company")
        assert index.documents(conn, "crm_company") == frozenset()
        assert found(conn, table, "northw") == ["c1"]
    done = CliRunner().invoke(main, ["search", "reindex", "company"], env={
        "METACRM_DATABASE_URL": url, "METACRM_INSTANCE_PATH": str(tmp_path / "instance")})
    assert done.exit_code == 0, done.output
    with postgres_engine.connect() as conn:
        assert index.exists(conn, "crm_company")
        assert index.documents(conn, "crm_company") == {document_column("name")}
        assert found(conn, table, "northw") == ["c1"]
        assert found(conn, table, "trader") == ["c1"]


def found(conn: sa.Connection, table: sa.Table, word: str) -> list[str]:
    """Ids of the rows whose name has a word starting with `word` (stemmed)."""
    match = PostgresSearchIndex().match(conn, table, ["name"], [word], typos=False)
    return [str(row) for row in conn.execute(sa.select(table.c.id).where(match)).scalars()]
