"""One database transaction per command: the record, its audit rows and its events.

`write_transaction` opens the transaction a write command runs in. On SQLite it takes the
database's write lock first (the effect of `BEGIN IMMEDIATE`): a command reads the record
before changing it, and two such transactions that both read and then both try to write
would deadlock, SQLite answering one of them "database is locked" at once. Taking the lock
up front makes the second writer wait for the first instead, then read the committed
version — so of two updates from the same version one wins and the other gets a clean
`StaleRecord`. PostgreSQL locks the record itself (`SELECT ... FOR UPDATE`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from metacrm.storage.system_tables import outbox

_TAKE_WRITE_LOCK = sa.update(outbox).where(sa.false()).values(published_at=None)
"""A write that changes nothing: SQLite takes its RESERVED (write) lock for it."""


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that commits when the block ends and rolls back on any exception."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(_TAKE_WRITE_LOCK)
        yield connection
