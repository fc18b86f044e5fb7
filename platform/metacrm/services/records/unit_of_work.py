"""One database transaction per command: the record, its audit rows and its events.

`write_transaction` opens the transaction a write command runs in. On SQLite it takes the
database's write lock first (the effect of `BEGIN IMMEDIATE`): a command reads the record
before changing it, and two such transactions that both read and then both try to write
would deadlock, SQLite answering one of them "database is locked" at once. Taking the lock
up front makes the second writer wait for the first instead, then read the committed
version — so of two updates from the same version one wins and the other gets a clean
`StaleRecord`. PostgreSQL locks the record itself (`SELECT ... FOR UPDATE`).

Listeners see the command's domain events twice (see `TransactionListener`): before the
commit, on the command's connection — synchronous triggers run there, and what they raise
rolls the whole command back — and after the commit — where the outbox relay is nudged.
Events that listeners' own writes produce before the commit are handed to the listeners
again, round after round, until a round adds none.

The command's audit rows and events are trailing writes (`metacrm.storage.trailing_writes`):
they wait on the connection and go out in one statement just before the commit. When a
listener relays every event to work items before the commit
(`TransactionListener.relays_events`), events are written as published at once instead of
being marked with an UPDATE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Protocol

import sqlalchemy as sa

from metacrm.storage import trailing_writes
from metacrm.storage.outbox import OutboxEvent, collect_events, relayed_before_commit
from metacrm.storage.system_tables import outbox

_log = logging.getLogger(__name__)

_TAKE_WRITE_LOCK = sa.update(outbox).where(sa.false()).values(published_at=None)
"""A write that changes nothing: SQLite takes its RESERVED (write) lock for it."""

MAX_ROUNDS = 50
"""A safety net far above any trigger depth limit: listeners that keep producing events
beyond this many rounds are a bug, and the command is refused rather than looping."""


class TransactionListener(Protocol):
    """Hears the domain events a write command produced.

    A listener with a true `relays_events` attribute promises to relay every event it hears
    before the commit to the job queue's work items in the same transaction."""

    def before_commit(self, conn: sa.Connection, events: Sequence[OutboxEvent]) -> None:
        """Inside the command's transaction; an exception rolls the command back."""

    def after_commit(self, events: Sequence[OutboxEvent]) -> None:
        """After the commit; exceptions are logged, never undo the committed change."""


@contextmanager
def write_transaction(
    engine: sa.Engine, listeners: Sequence[TransactionListener] = ()
) -> Iterator[sa.Connection]:
    """A transaction that commits when the block ends and rolls back on any exception."""
    relayed = any(getattr(listener, "relays_events", False) for listener in listeners)
    with engine.connect() as connection:
        with connection.begin():
            if connection.dialect.name == "sqlite":
                connection.execute(_TAKE_WRITE_LOCK)
            with collect_events(connection) as events, \
                    trailing_writes.deferred(connection), \
                    relayed_before_commit(connection) if relayed else nullcontext():
                yield connection
                _run_before_commit(connection, listeners, events)
                trailing_writes.flush(connection)
        _run_after_commit(listeners, events)


def _run_before_commit(
    connection: sa.Connection, listeners: Sequence[TransactionListener],
    events: list[OutboxEvent],
) -> None:
    if not listeners:
        return
    seen = 0
    for _round in range(MAX_ROUNDS):
        if seen == len(events):
            return
        batch = events[seen:]
        seen = len(events)
        for listener in listeners:
            listener.before_commit(connection, batch)
    raise RuntimeError(f"write listeners still produced events after {MAX_ROUNDS} rounds")


def _run_after_commit(
    listeners: Sequence[TransactionListener], events: list[OutboxEvent]
) -> None:
    if not events:
        return
    for listener in listeners:
        try:
            listener.after_commit(list(events))
        except Exception:  # the change is committed; a listener's failure must not hide it
            _log.exception("after-commit listener %r failed", listener)
