"""The test apps' shortcut (tests/fab_permissions_harness.py) must not change what the
tests see: a database seeded with FAB's permission rows holds, after the app started and
a user was added, exactly what FAB's own permission sync writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_appbuilder.models.sqla import Model

from database_harness import postgres_schema, schema_url
from metacrm.storage.engine import create_database_engine
from web_harness import open_web, role

ASSOCIATIONS = {"ab_permission_view_role", "ab_user_role", "ab_user_group", "ab_group_role"}
ROLES = (role("boss", admin=True), role("clerk"), role("auditor", admin=True))


@contextmanager
def second_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    with postgres_schema(database_url) as schema:
        yield schema_url(database_url, schema)


def fab_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            return {table.name: [dict(row) for row in conn.execute(
                        sa.select(table).order_by(*table.primary_key.columns)).mappings()]
                    for table in Model.metadata.sorted_tables}
    finally:
        engine.dispose()


def comparable(tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The rows without what differs between any two runs (password salts, times) and
    without the ids of association rows (the order FAB inserts grants in varies)."""
    volatile = {"password", "created_on", "changed_on", "last_login"}
    result: dict[str, Any] = {}
    for name, rows in tables.items():
        cleaned = [{key: value for key, value in row.items() if key not in volatile}
                   for row in rows]
        if name in ASSOCIATIONS:
            result[name] = sorted(tuple(sorted((k, v) for k, v in row.items() if k != "id"))
                                  for row in cleaned)
        else:
            result[name] = cleaned
    return result


def start_and_add_a_user(url: str, root: Path, **overrides: Any) -> None:
    with open_web(url, root, roles=ROLES, **overrides) as web:
        web.create_user("ann", "clerk")
        web.create_user("root", "auditor")
        web.login("ann")


def test_a_seeded_database_holds_what_fabs_own_sync_writes(
    isolated_database_url: str, database_url: str, tmp_path: Path,
) -> None:
    with second_database(database_url, tmp_path) as synced_url:
        start_and_add_a_user(synced_url, tmp_path / "synced", FAB_UPDATE_PERMS=True)
        start_and_add_a_user(isolated_database_url, tmp_path / "seeded")

        synced, seeded = fab_rows(synced_url), fab_rows(isolated_database_url)

    assert len(synced["ab_permission_view"]) > 50
    assert comparable(seeded) == comparable(synced)


def test_a_second_app_on_a_database_fab_has_set_up_syncs_as_before(
    isolated_database_url: str, tmp_path: Path,
) -> None:
    start_and_add_a_user(isolated_database_url, tmp_path / "first")
    before = fab_rows(isolated_database_url)

    with open_web(isolated_database_url, tmp_path / "second", roles=()) as web:
        assert web.app.config["FAB_UPDATE_PERMS"] is True
        web.login("ann")

    assert fab_rows(isolated_database_url)["ab_permission_view"] == before["ab_permission_view"]
