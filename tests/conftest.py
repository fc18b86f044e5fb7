"""Shared fixtures: a real, isolated database per test (SQLite file or PostgreSQL schema).

The suite runs once per database: `METACRM_TEST_DATABASE_URL` picks it (default SQLite).
Tests that need a service skip with the reason when it is not reachable — unless
`METACRM_REQUIRE_SERVICES=1` (set by .ci/run), which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from browser_runs import mark_browser_tests
from database_free import mark_database_free
from database_harness import SchemaDropper, postgres_schema, schema_url
from metacrm.storage.engine import create_database_engine
from url_builder_cache import install as install_url_builder_cache

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


install_url_builder_cache()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `no_database` the tests that reach no suite database (database_free.py): the
    PostgreSQL run of .ci/run deselects them, the SQLite run runs them. Mark `browser` the
    browser tests (browser_runs.py): the PostgreSQL run keeps only those `postgres_too`."""
    roots = [config.rootpath / path for path in config.getini("testpaths")]
    mark_database_free(items, roots or [config.rootpath])
    mark_browser_tests(items, Path(__file__).parent / "browser")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The URL the suite runs against; a fresh SQLite file per test by default."""
    return os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def schema_dropper() -> Iterator[SchemaDropper]:
    """Drops the PostgreSQL schemas of finished tests in the background (database_harness)."""
    dropper = SchemaDropper()
    yield dropper
    failures = dropper.close()
    if failures:
        pytest.fail("test schemas left behind: " + "; ".join(failures))


@pytest.fixture
def isolated_database_url(database_url: str, schema_dropper: SchemaDropper) -> Iterator[str]:
    """The URL of an empty database, for code that builds its own engine (CLI, services)."""
    if not database_url.startswith("postgresql"):
        yield database_url
        return
    with postgres_schema(database_url, schema_dropper) as schema:
        yield schema_url(database_url, schema)


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory,
                        schema_dropper: SchemaDropper) -> Iterator[str]:
    """The URL of an empty database shared by one module's tests: for a module-scoped app
    whose tests only read, or make records of their own (an app costs far more than a test's
    requests, most of all on PostgreSQL). A SQLite file or a PostgreSQL schema."""
    url = os.environ.get("METACRM_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('module') / 'test.db'}"
        return
    with postgres_schema(url, schema_dropper) as schema:
        yield schema_url(url, schema)


@pytest.fixture
def engine(isolated_database_url: str) -> Iterator[sa.Engine]:
    """An engine on an empty database: a fresh SQLite file or a fresh PostgreSQL schema."""
    engine = create_database_engine(isolated_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(schema_dropper: SchemaDropper) -> Iterator[sa.Engine]:
    """A PostgreSQL engine (fresh schema) whatever the suite's database, for PG-only checks."""
    url = os.environ.get("METACRM_TEST_POSTGRES_URL") or POSTGRES_URL_DEFAULT
    with postgres_schema(url, schema_dropper) as schema:
        engine = create_database_engine(schema_url(url, schema))
        yield engine
        engine.dispose()
