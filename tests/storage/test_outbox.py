"""The outbox: events stored with the change, read in order, marked published once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from metacrm.storage import outbox

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def event(kind: str, record_id: str, changed: list[str] | None = None) -> outbox.OutboxEvent:
    return outbox.record_event(kind, "deal", {"id": record_id, "title": "T"}, actor="u1",
                               occurred_at=T0, changed=changed)


def test_payloads_follow_the_versioned_format() -> None:
    created = event(outbox.RECORD_CREATED, "r1")
    assert created.payload == {"version": 1, "entity": "deal", "id": "r1",
                               "record": {"id": "r1", "title": "T"}, "actor": "u1",
                               "occurred_at": "2024-05-01T12:00:00Z"}
    updated = event(outbox.RECORD_UPDATED, "r1", changed=["title"])
    assert updated.payload["changed"] == ["title"]
    with pytest.raises(ValueError):
        event("record.renamed", "r1")


def test_pending_events_come_in_order_and_are_published_once(engine: sa.Engine) -> None:
    first, second, third = (event(outbox.RECORD_CREATED, "r1"),
                            event(outbox.RECORD_UPDATED, "r1", changed=["title"]),
                            event(outbox.RECORD_CREATED, "r2"))
    with engine.begin() as conn:
        outbox.initialize_outbox(conn)
        outbox.initialize_outbox(conn)
        outbox.append(conn, [first, second])
        outbox.append(conn, [third])
    with engine.begin() as conn:
        pending = outbox.pending(conn, limit=2)
        assert [e.id for e in pending] == [first.id, second.id]
        assert pending[1].payload == second.payload
        assert outbox.mark_published(conn, [first.id, second.id], T0 + timedelta(1)) == 2
        assert outbox.mark_published(conn, [first.id], T0 + timedelta(2)) == 0
    with engine.connect() as conn:
        assert [e.id for e in outbox.pending(conn)] == [third.id]
        published = outbox.events_for(conn, "deal", "r1")
    assert [e.published_at for e in published] == [T0 + timedelta(1)] * 2


def test_events_roll_back_with_the_transaction(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        outbox.initialize_outbox(conn)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        outbox.append(conn, [event(outbox.RECORD_DELETED, "r1")])
        raise RuntimeError("the change failed")
    with engine.connect() as conn:
        assert outbox.pending(conn) == []
