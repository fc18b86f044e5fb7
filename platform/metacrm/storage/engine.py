"""Engines for the two supported databases, set up so both behave the same way.

SQLite needs three adjustments to act like the production database where it matters:
transactional DDL (pysqlite otherwise commits before every DDL statement, so a failing
migration plan would be half-applied), foreign keys (off by default per connection), and a
Unicode-aware `lower()` (SQLite's built-in lowers ASCII only, so case-insensitive search on
Cyrillic text would differ from PostgreSQL). File databases also run in WAL mode.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from metacrm.criteria.casefold import sql_lower
from metacrm.storage.date_buckets import SQLITE_FUNCTION, sqlite_bucket
from metacrm.storage.search_text import SQLITE_FUNCTION as SEARCH_FUNCTION
from metacrm.storage.search_text import search_document


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
    idle_ping = options.pop("idle_ping_seconds", IDLE_PING_SECONDS)
    engine = sa.create_engine(sa_url, **options)
    if not options.get("pool_pre_ping"):
        _ping_connections_idle_for(engine, idle_ping)
    return engine


IDLE_PING_SECONDS = 10.0
"""A pooled PostgreSQL connection unused for longer is checked before it is handed out."""


def _ping_connections_idle_for(engine: Engine, seconds: float) -> None:
    """SQLAlchemy's `pool_pre_ping` costs a round trip on EVERY check-out — on a busy
    process the largest share of a simple request's database time. A connection used a
    moment ago is alive; only one idle for `seconds` (the database may have restarted, a
    firewall may have dropped it) is pinged, and a dead one is replaced before anyone sees
    it (SQLAlchemy's documented custom pessimistic disconnect handling)."""

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["metacrm_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("metacrm_idle_since")
        if since is None or time.monotonic() - since < seconds:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:  # dead: the pool discards it and checks out another
            raise sa.exc.DisconnectionError(str(exc)) from exc


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        # Fold case exactly as PostgreSQL does, so ILIKE filters agree (criteria.casefold).
        dbapi_connection.create_function("lower", 1, sql_lower, deterministic=True)
        # Report date buckets (storage.date_buckets): PostgreSQL does them in SQL.
        dbapi_connection.create_function(SQLITE_FUNCTION, 4, sqlite_bucket,
                                         deterministic=True)
        # Stems for the search index's triggers (storage.search_sqlite): FTS5 cannot stem
        # Russian, so the index holds stems computed in Python.
        dbapi_connection.create_function(SEARCH_FUNCTION, 1, search_document,
                                         deterministic=True)
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
