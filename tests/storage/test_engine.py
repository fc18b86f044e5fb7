"""The engine setup makes SQLite behave like PostgreSQL where metacrm depends on it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from metacrm.storage.engine import create_database_engine


def test_ddl_rolls_back_with_the_transaction(engine: sa.Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE half_applied (id INTEGER PRIMARY KEY)")
        raise RuntimeError("injected failure after DDL")
    assert not sa.inspect(engine).has_table("half_applied")


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id VARCHAR(36) PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE child (id VARCHAR(36) PRIMARY KEY,"
            " parent_id VARCHAR(36) REFERENCES parent(id))"
        )
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO child (id, parent_id) VALUES ('c1', 'missing')")


def test_lower_is_unicode_aware(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.lower("ЖУК Äpfel"))).scalar_one() == "жук äpfel"


def test_a_pooled_connection_that_died_while_idle_is_replaced_unseen(
        postgres_engine: sa.Engine) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    engine = create_database_engine(url, idle_ping_seconds=0.0)
    try:
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with postgres_engine.connect() as admin:  # the database drops the idle connection
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
