"""Shared fixtures: a real, isolated database per test (SQLite file or PostgreSQL schema).

The suite runs once per database: `METACRM_TEST_DATABASE_URL` picks it (default SQLite).
Tests that need a service skip with the reason when it is not reachable — unless
`METACRM_REQUIRE_SERVICES=1` (set by .ci/run), which turns that skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from metacrm.storage.engine import create_database_engine

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REQUIRE_SERVICES = os.environ.get("METACRM_REQUIRE_SERVICES") == "1"


def service_unavailable(reason: str) -> None:
    """Skip the test, or fail it when CI forbids skipping for a missing service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The URL the suite runs against; a fresh SQLite file per test by default."""
    return os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


@contextmanager
def _postgres_schema(url: str) -> Iterator[str]:
    """Create a uniquely named schema for one test and drop it (with its tables) afterwards."""
    admin = create_database_engine(url)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
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


def schema_url(url: str, schema: str) -> str:
    """`url` with its connections' search_path set to `schema`."""
    return (
        sa.make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def isolated_database_url(database_url: str) -> Iterator[str]:
    """The URL of an empty database, for code that builds its own engine (CLI, services)."""
    if not database_url.startswith("postgresql"):
        yield database_url
        return
    with _postgres_schema(database_url) as schema:
        yield schema_url(database_url, schema)


@pytest.fixture
def engine(isolated_database_url: str) -> Iterator[sa.Engine]:
    """An engine on an empty database: a fresh SQLite file or a fresh PostgreSQL schema."""
    engine = create_database_engine(isolated_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[sa.Engine]:
    """A PostgreSQL engine (fresh schema) whatever the suite's database, for PG-only checks."""
    url = os.environ.get("METACRM_TEST_POSTGRES_URL") or POSTGRES_URL_DEFAULT
    with _postgres_schema(url) as schema:
        engine = create_database_engine(schema_url(url, schema))
        yield engine
        engine.dispose()
