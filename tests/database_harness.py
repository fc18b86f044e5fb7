"""Isolated databases for tests: a fresh PostgreSQL schema per use (SQLite needs only a
fresh file). Shared by conftest.py's fixtures and tests that need a second database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from metacrm.storage.engine import create_database_engine

REQUIRE_SERVICES = os.environ.get("METACRM_REQUIRE_SERVICES") == "1"


def service_unavailable(reason: str) -> None:
    """Skip the test, or fail it when CI forbids skipping for a missing service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """Create a uniquely named schema for one test and drop it (with its tables) afterwards."""
    admin = create_database_engine(url)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        _shared_trigram_extension(admin)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        service_unavailable(f"PostgreSQL not reachable at {url}: {exc.orig}")
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _shared_trigram_extension(admin: sa.Engine) -> None:
    """pg_trgm in the database's `public` schema, once: search and fuzzy duplicate rules
    would otherwise create it in the first test schema that needs it, and dropping that
    schema would drop the extension under every other test using it at the time. (Each
    time: a run that created it in a test schema of its own may drop it any moment.)"""
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    except sa.exc.IntegrityError:  # created by a concurrent run meanwhile
        pass
    except sa.exc.ProgrammingError as exc:
        if "already exists" not in str(exc):
            raise


def schema_url(url: str, schema: str) -> str:
    """`url` with its connections' search_path set to `schema`.

    Test connections also commit without waiting for the WAL flush (`synchronous_commit`
    off): what a commit makes visible to other connections is unchanged, only a crash of
    the server could lose the last commits — of a throw-away schema. Tests commit often
    (Flask-AppBuilder's start-up alone commits a hundred times), so this halves the time
    many of them spend waiting for the disk.
    """
    return (
        sa.make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema} -csynchronous_commit=off"})
        .render_as_string(hide_password=False)
    )


