"""The engine setup makes SQLite behave like PostgreSQL where metacrm depends on it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


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
