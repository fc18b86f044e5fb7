"""Engines for the two supported databases, set up so both behave the same way.

SQLite needs three adjustments to act like the production database where it matters:
transactional DDL (pysqlite otherwise commits before every DDL statement, so a failing
migration plan would be half-applied), foreign keys (off by default per connection), and a
Unicode-aware `lower()` (SQLite's built-in lowers ASCII only, so case-insensitive search on
Cyrillic text would differ from PostgreSQL). File databases also run in WAL mode.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from metacrm.criteria.casefold import sql_lower


def is_sqlite(engine: Engine | sa.Connection) -> bool:
    return engine.dialect.name == "sqlite"


def create_database_engine(url: str, **options: Any) -> Engine:
    """Create an engine for `url` (SQLite or PostgreSQL) with metacrm's connection setup."""
    sa_url = sa.make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        options.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = sa.create_engine(sa_url, **options)
        _configure_sqlite(engine)
        return engine
    if sa_url.get_backend_name() != "postgresql":
        raise ValueError(
            f"unsupported database {sa_url.get_backend_name()!r}: use sqlite or postgresql"
        )
    options.setdefault("pool_pre_ping", True)
    return sa.create_engine(sa_url, **options)


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        # Fold case exactly as PostgreSQL does, so ILIKE filters agree (criteria.casefold).
        dbapi_connection.create_function("lower", 1, sql_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers do not block the writer (a web process reads while another writes);
        # synchronous=NORMAL is WAL's documented durable-enough setting (a commit survives
        # a process crash; only an OS crash may lose the last commits) and saves an fsync
        # per commit. A no-op for in-memory databases.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")
