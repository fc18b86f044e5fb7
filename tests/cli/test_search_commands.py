"""`metacrm search reindex`: the search index of record tables built again on demand."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from metacrm.cli.main import main
from metacrm.storage.engine import create_database_engine
from metacrm.storage.search_index import search_index_for
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
