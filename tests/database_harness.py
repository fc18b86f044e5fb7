"""Isolated databases for tests: a fresh PostgreSQL schema per use (SQLite needs only a
fresh file). Shared by conftest.py's fixtures and tests that need a second database."""

from __future__ import annotations

import os
import queue
import threading
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
def postgres_schema(url: str, dropper: SchemaDropper | None = None) -> Iterator[str]:
    """Create a uniquely named schema for one test and drop it (with its tables) afterwards:
    at once, or by `dropper` while the next tests run."""
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
        if dropper is not None:
            admin.dispose()
            dropper.drop(url, schema)
        else:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


class SchemaDropper:
    """Drops finished tests' schemas on a thread of its own, so that a test does not wait
    for the server to delete its tables (a `DROP SCHEMA ... CASCADE` of a web test's ~100
    tables and indexes takes longer than creating the schema) while the next test can
    already run. Nothing uses a schema once its test has ended: its engines are disposed
    first, and names are random. `close()` waits until every schema is dropped and returns
    what could not be (tests/conftest.py fails the session's last test with it)."""

    def __init__(self) -> None:
        self._pending: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failures: list[str] = []

    def drop(self, url: str, schema: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="schema-dropper",
                                            daemon=True)
            self._thread.start()
        self._pending.put((url, schema))

    def close(self) -> list[str]:
        if self._thread is not None:
            self._pending.put(None)
            self._thread.join()
            self._thread = None
        return self.failures

    def _run(self) -> None:
        engines: dict[str, sa.Engine] = {}
        try:
            while (job := self._pending.get()) is not None:
                url, schema = job
                try:
                    engine = engines.get(url) or engines.setdefault(
                        url, create_database_engine(url))
                    with engine.begin() as conn:
                        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                except Exception as exc:  # any failure: reported by close()
                    self.failures.append(f"{schema}: {exc}")
        finally:
            for engine in engines.values():
                engine.dispose()


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


