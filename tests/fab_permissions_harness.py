"""Flask-AppBuilder's permission tables, built once per test process and copied into each
new test database — the largest cost of a test app otherwise.

On a fresh database FAB's start-up registers every view's permissions row by row: about a
thousand queries and two hundred commits, 1 s of a web test's 1.3 s on SQLite and 3 s on
PostgreSQL. The rows it writes depend only on FAB's configuration (which views it
registers) and on the name of its admin role, so `open_web` asks `seed_fab_security` to
copy them from a snapshot (taken by a real FAB start on a scratch SQLite file, once per
configuration in this process) and then starts FAB with `FAB_UPDATE_PERMS` off: the
database ends up with the same rows, ids included, as a start with the sync on
(tests/identity/test_fab_permission_seed.py compares the two). Databases FAB has already
set up are left alone, so a second app on the same database behaves as before.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_appbuilder.models.sqla import Model

FAB_TABLES_PROBE = "ab_permission_view"
"""A table FAB creates on its first start; present means "FAB has been here"."""

Snapshot = tuple[tuple[sa.Table, tuple[dict[str, Any], ...]], ...]
"""FAB's tables with the rows a first start wrote to them, in foreign-key order."""

_snapshots: dict[tuple[str, tuple[tuple[str, str], ...]], Snapshot] = {}


def fab_key(overrides: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The part of the app's configuration that can change what FAB registers."""
    return tuple(sorted((name, repr(value)) for name, value in overrides.items()
                        if name.startswith(("FAB_", "AUTH_"))
                        and name != "FAB_PASSWORD_HASH_METHOD"))


def fab_has_started(engine: sa.Engine) -> bool:
    """Whether FAB has set up its tables in `engine`'s database."""
    return sa.inspect(engine).has_table(FAB_TABLES_PROBE)


def seed_fab_security(engine: sa.Engine, admin_role: str,
                      overrides: Mapping[str, Any]) -> bool:
    """Copy FAB's tables and permission rows into `engine`'s database if FAB has never
    started there; True when it did (start FAB with `FAB_UPDATE_PERMS` off then)."""
    if fab_has_started(engine):
        return False
    key = (admin_role, fab_key(overrides))
    snapshot = _snapshots.get(key)
    if snapshot is None:
        snapshot = _snapshots[key] = _take_snapshot(admin_role, overrides)
    Model.metadata.create_all(engine)
    with engine.begin() as conn:
        for table, rows in snapshot:
            if rows:
                conn.execute(table.insert(), list(rows))
        if conn.dialect.name == "postgresql":
            _advance_sequences(conn, snapshot)
    return True


def _advance_sequences(conn: sa.Connection, snapshot: Snapshot) -> None:
    """Rows were inserted with their ids: move each id sequence past them."""
    for table, rows in snapshot:
        for column in table.columns:
            sequence = column.default
            if rows and isinstance(sequence, sa.Sequence):
                conn.execute(sa.select(sa.func.setval(
                    sequence.name, max(row[column.name] for row in rows))))


def _take_snapshot(admin_role: str, overrides: Mapping[str, Any]) -> Snapshot:
    """Start a real app (FAB's permission sync on) on a scratch SQLite database with
    `admin_role` as FAB's admin role, and read back what FAB wrote."""
    from metacrm.app import create_app, dispose_app
    from web_harness import settings_for

    with tempfile.TemporaryDirectory(prefix="fab-snapshot-") as folder:
        root = Path(folder)
        url = f"sqlite:///{root / 'fab.db'}"
        config = {**overrides, "AUTH_ROLE_ADMIN": admin_role, "FAB_UPDATE_PERMS": True}
        app = create_app(settings_for(url, root), TESTING=True, **config)
        dispose_app(app)
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return tuple(
                    (table, tuple(dict(row) for row in conn.execute(
                        sa.select(table).order_by(*table.primary_key.columns)).mappings()))
                    for table in Model.metadata.sorted_tables)
        finally:
            engine.dispose()
