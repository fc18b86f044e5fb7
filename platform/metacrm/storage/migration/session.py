"""The one transaction a migration plan (and its metadata version row) is applied in.

PostgreSQL: a plain transaction with a `lock_timeout`, so an `ALTER TABLE` waiting behind a
long-running query fails fast instead of queueing every other query on that table behind it.

SQLite: foreign key enforcement is switched off before the transaction begins (it cannot be
changed inside one) so that table rebuilds do not fire `ON DELETE` actions, and
`PRAGMA foreign_key_check` must come back clean before the transaction commits — the
documented SQLite procedure for schema changes. Enforcement is switched back on afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from metacrm.kernel.errors import ErrorDetail, MigrationFailed

DEFAULT_LOCK_TIMEOUT_MS = 10_000


@contextmanager
def begin_migration(
    engine: sa.Engine, *, lock_timeout_ms: int | None = DEFAULT_LOCK_TIMEOUT_MS
) -> Iterator[sa.Connection]:
    """A connection inside a transaction that commits when the block ends without error."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                if lock_timeout_ms is not None:
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                yield connection
            return
        _set_sqlite_foreign_keys(connection, enabled=False)
        try:
            with connection.begin():
                yield connection
                _check_sqlite_foreign_keys(connection)
        finally:
            _set_sqlite_foreign_keys(connection, enabled=True)


def _set_sqlite_foreign_keys(connection: sa.Connection, *, enabled: bool) -> None:
    # Outside any transaction, on the DBAPI connection: through SQLAlchemy the statement would
    # begin a transaction first, and SQLite ignores this pragma inside one.
    if connection.invalidated:
        return  # the pool discards this DBAPI connection; nothing to restore
    driver = connection.connection.driver_connection
    if driver is not None:
        driver.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")


def _check_sqlite_foreign_keys(connection: sa.Connection) -> None:
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if rows:
        raise MigrationFailed(
            "the migration would leave references to missing records",
            [
                ErrorDetail(f"row {row[1]} of {row[0]} references a missing {row[2]} record")
                for row in rows[:20]
            ],
        )
