"""Trailing writes: a command's audit rows and events wait on its connection and are
written together before the commit — exactly as they would have been written at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from metacrm.storage import audit, outbox, trailing_writes
from metacrm.storage.audit import AuditEntry
from metacrm.storage.system_tables import create_system_tables

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
ODD_VALUES: list[object] = [
    None, "plain", "quotes \" and \\ backslash, ünïcödé, emoji 🚀", 0, -7, 3.5, True, False,
    {"amount": "12.50", "currency": "EUR"}, ["a", "b"], {"nested": {"list": [1, None]}},
]


@pytest.fixture(params=["engine", "postgres_engine"])
def database(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    engine: sa.Engine = request.getfixturevalue(request.param)
    with engine.begin() as conn:
        create_system_tables(conn)
    yield engine


def entries(event_id: str) -> list[AuditEntry]:
    return [
        AuditEntry("deal", "r1", "updated", f"f{i}", old, ODD_VALUES[-1 - i], "u1",
                   T0 + timedelta(microseconds=i), event_id)
        for i, old in enumerate(ODD_VALUES)
    ] + [AuditEntry("deal", "r1", "created", None, None, None, None, T0, event_id)]


def event(published_at: datetime | None = None) -> outbox.OutboxEvent:
    made = outbox.record_event(outbox.RECORD_UPDATED, "deal",
                               {"id": "r1", "title": "Ünïcödé \"deal\"", "tags": None},
                               actor="u1", occurred_at=T0, changed=["title"],
                               previous={"title": None})
    return outbox.OutboxEvent(made.type, made.entity, made.record_id, made.payload,
                              made.created_at, published_at, made.id)


def test_deferred_rows_read_back_exactly_as_rows_written_at_once(database: sa.Engine) -> None:
    """JSON values of every shape, SQL NULL versus a value, microseconds and time zones
    survive the one-statement flush unchanged."""
    first = event()
    later = event(published_at=datetime(2024, 5, 2, 1, 0, tzinfo=timezone(timedelta(hours=3))))
    written = entries(first.id)
    with database.begin() as conn, trailing_writes.deferred(conn):
        audit.write_entries(conn, written)
        outbox.append(conn, [first, later])
        trailing_writes.flush(conn)
    with database.connect() as conn:
        trail = audit.entries_for(conn, "deal", "r1")
        stored = outbox.events_for(conn, "deal", "r1")
        sql_nulls = conn.execute(sa.text(
            "SELECT count(*) FROM metacrm_audit WHERE old IS NULL")).scalar_one()
    assert sorted(trail, key=lambda e: e.id) == sorted(written, key=lambda e: e.id)
    assert sql_nulls == sum(1 for e in written if e.old is None)  # not JSON 'null'
    assert stored == [first, later]
    assert stored[1].published_at == datetime(2024, 5, 1, 22, 0, tzinfo=UTC)


def test_nothing_is_written_until_the_flush_but_reads_see_the_rows(
        database: sa.Engine) -> None:
    written = event()
    with database.begin() as conn, trailing_writes.deferred(conn):
        audit.write_entries(conn, entries(written.id)[:2])
        outbox.append(conn, [written])
        raw = conn.execute(sa.text("SELECT count(*) FROM metacrm_audit")).scalar_one()
        assert raw == 0  # still waiting on the connection
        assert len(audit.entries_for(conn, "deal", "r1")) == 2  # a read flushes first
        assert [e.id for e in outbox.pending(conn)] == [written.id]


def test_deferred_rows_roll_back_with_the_transaction(database: sa.Engine) -> None:
    with pytest.raises(RuntimeError), database.begin() as conn, \
            trailing_writes.deferred(conn):
        audit.write_entries(conn, entries("e1"))
        outbox.append(conn, [event()])
        trailing_writes.flush(conn)
        raise RuntimeError("the change failed")
    with database.connect() as conn:
        assert audit.entries_for(conn, "deal", "r1") == []
        assert outbox.pending(conn) == []


def test_events_relayed_before_the_commit_are_stored_as_published(
        database: sa.Engine) -> None:
    relayed, plain = event(), event()
    with database.begin() as conn:
        with outbox.relayed_before_commit(conn):
            assert outbox.published_on_write(conn)
            outbox.append(conn, [relayed])
        assert not outbox.published_on_write(conn)
        outbox.append(conn, [plain])
    with database.connect() as conn:
        assert [e.id for e in outbox.pending(conn)] == [plain.id]
        stored = {e.id: e for e in outbox.events_for(conn, "deal", "r1")}
    assert stored[relayed.id].published_at == relayed.created_at


def test_naive_times_are_refused_before_anything_is_written(database: sa.Engine) -> None:
    naive = AuditEntry("deal", "r1", "updated", "f", 1, 2, "u1", datetime(2024, 5, 1), "e")
    with database.begin() as conn, trailing_writes.deferred(conn):
        audit.write_entries(conn, [naive])
        with pytest.raises((ValueError, sa.exc.StatementError)):
            trailing_writes.flush(conn)
