"""The audit trail table: rows written in the caller's transaction, read newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from metacrm.storage import audit
from metacrm.storage.audit import AuditEntry

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def entry(action: str, field: str | None, old: object, new: object, at: datetime,
          event: str, record: str = "r1") -> AuditEntry:
    return AuditEntry("deal", record, action, field, old, new, "u1", at, event)


def test_entries_round_trip_newest_change_first(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        audit.initialize_audit(conn)
        audit.initialize_audit(conn)  # idempotent
        audit.write_entries(conn, [
            entry("created", "title", None, "A", T0, "e1"),
            entry("created", "amount", None, {"amount": "1.50", "currency": "EUR"}, T0, "e1"),
            entry("created", "title", None, "other record", T0, "e9", record="r2"),
        ])
        audit.write_entries(conn, [
            entry("updated", "title", "A", "B", T0 + timedelta(seconds=1), "e2"),
            entry("updated", "tags", ["x"], None, T0 + timedelta(seconds=1), "e2"),
        ])
    with engine.connect() as conn:
        rows = audit.entries_for(conn, "deal", "r1")
        assert not audit.was_deleted(conn, "deal", "r1")
    assert [(e.action, e.field, e.old, e.new) for e in rows] == [
        ("updated", "title", "A", "B"),
        ("updated", "tags", ["x"], None),
        ("created", "title", None, "A"),
        ("created", "amount", None, {"amount": "1.50", "currency": "EUR"}),
    ]
    assert rows[0].at == T0 + timedelta(seconds=1) and rows[0].at.tzinfo is not None
    assert rows[0].to_json()["at"] == "2024-05-01T12:00:01Z"


def test_rows_roll_back_with_the_transaction(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        audit.initialize_audit(conn)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        audit.write_entries(conn, [entry("deleted", None, None, None, T0, "e1")])
        raise RuntimeError("the change failed")
    with engine.connect() as conn:
        assert audit.entries_for(conn, "deal", "r1") == []


def test_only_known_actions_are_stored() -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        entry("renamed", "title", None, None, T0, "e1")
