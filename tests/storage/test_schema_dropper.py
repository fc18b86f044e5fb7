"""Test schemas dropped in the background (database_harness.SchemaDropper): every schema
handed to it is gone once it is closed, and one it could not drop is reported, not lost —
else a PostgreSQL run would leave its tables behind unnoticed."""

from __future__ import annotations

import os

import sqlalchemy as sa

from database_harness import SchemaDropper, postgres_schema
from metacrm.storage.engine import create_database_engine

URL = os.environ.get("METACRM_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def schemas(url: str, names: list[str]) -> set[str]:
    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT schema_name FROM information_schema.schemata"
                        " WHERE schema_name = ANY(:names)"), {"names": names})
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def test_schemas_handed_over_are_gone_once_the_dropper_is_closed() -> None:
    dropper = SchemaDropper()
    names = []
    for _ in range(3):
        with postgres_schema(URL, dropper) as schema:
            names.append(schema)
            engine = create_database_engine(URL)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE TABLE "{schema}".thing (id integer PRIMARY KEY)')
            engine.dispose()

    assert dropper.close() == []
    assert schemas(URL, names) == set()


def test_a_schema_that_could_not_be_dropped_is_reported() -> None:
    dropper = SchemaDropper()
    dropper.drop(URL, "t_never_created")

    failures = dropper.close()

    assert len(failures) == 1
    assert failures[0].startswith("t_never_created: ")
    assert "does not exist" in failures[0]
