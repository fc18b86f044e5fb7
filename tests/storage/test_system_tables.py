"""System tables evolve in place: columns a release adds reach databases made before it,
and the rows already there take the column's default (their data migration)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from metacrm.services.users.preferences import UserPreferences, save_preferences, saved_preferences
from metacrm.storage.system_tables import (
    audit,
    create_system_tables,
    user_preferences,
    webhooks,
)
from metacrm.webhooks import subscriptions


def _database_before_payload_versions(conn: sa.Connection) -> sa.Table:
    """The system tables as releases before payload format 2 left them: `metacrm_webhooks`
    without `payload_version` (read back from the database)."""
    create_system_tables(conn)
    conn.exec_driver_sql(f"ALTER TABLE {webhooks.name} DROP COLUMN payload_version")
    return sa.Table(webhooks.name, sa.MetaData(), autoload_with=conn)


def test_an_existing_subscriptions_table_gains_payload_version_and_its_rows_keep_1(
    engine: sa.Engine,
) -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with engine.begin() as conn:
        old = _database_before_payload_versions(conn)
        assert "payload_version" not in old.columns
        conn.execute(old.insert().values(
            id="hook-1", owner="7", url="https://93.184.216.34/hook", events=["*"],
            entity=None, filter=None, secret="whsec_x", previous_secret=None,
            previous_secret_expires_at=None, enabled=True, disabled_reason=None,
            failing_since=None, created_at=now, updated_at=now, version=3))

    with engine.begin() as conn:
        create_system_tables(conn)
    with engine.begin() as conn:
        create_system_tables(conn)  # a second start finds nothing to add

    columns = {c["name"]: c for c in sa.inspect(engine).get_columns(webhooks.name)}
    assert columns["payload_version"]["nullable"] is False
    with engine.connect() as conn:
        kept = subscriptions.get(conn, "hook-1")
    assert kept is not None
    assert (kept.payload_version, kept.version, kept.url) == (
        1, 3, "https://93.184.216.34/hook")


def test_an_existing_preferences_table_gains_the_profile_columns_and_keeps_the_language(
    engine: sa.Engine,
) -> None:
    added = ("time_zone", "date_format", "number_format")
    with engine.begin() as conn:
        create_system_tables(conn)
        for name in added:  # as releases before the profile page left it
            conn.exec_driver_sql(f"ALTER TABLE {user_preferences.name} DROP COLUMN {name}")
        old = sa.Table(user_preferences.name, sa.MetaData(), autoload_with=conn)
        conn.execute(old.insert().values(user_id="7", language="ru",
                                         updated_at=datetime(2026, 1, 5, tzinfo=UTC)))

    with engine.begin() as conn:
        create_system_tables(conn)

    columns = {c["name"]: c for c in sa.inspect(engine).get_columns(user_preferences.name)}
    assert all(columns[name]["nullable"] for name in added)
    assert saved_preferences(engine, "7") == UserPreferences(language="ru")
    save_preferences(engine, "7", UserPreferences("ru", "Europe/Moscow", "iso", "plain"))
    assert saved_preferences(engine, "7").time_zone == "Europe/Moscow"


def test_an_existing_audit_table_gains_the_entity_time_index(engine: sa.Engine) -> None:
    """"As of" runs read an entity's trail after an instant: databases made before the
    (entity, at) index get it on the next start, and a second start adds nothing."""
    with engine.begin() as conn:
        create_system_tables(conn)
        conn.exec_driver_sql("DROP INDEX ix_metacrm_audit_entity_at")
    assert "ix_metacrm_audit_entity_at" not in _indexes(engine, audit.name)

    for _ in range(2):
        with engine.begin() as conn:
            create_system_tables(conn)

    assert _indexes(engine, audit.name)["ix_metacrm_audit_entity_at"] == ["entity", "at"]


def _indexes(engine: sa.Engine, table: str) -> dict[str, list[str]]:
    return {str(index["name"]): [str(c) for c in index["column_names"]]
            for index in sa.inspect(engine).get_indexes(table)}
