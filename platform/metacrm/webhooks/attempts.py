"""The delivery log: one row of `metacrm_webhook_attempts` per HTTP attempt.

Each row says which subscription, work item and event it was for, the attempt number, when,
the status code (None: no answer), the latency, the first kilobyte of the answer and what
went wrong. Listed newest first with a keyset cursor; rows older than the retention period
(at least 30 days) are deleted by the `webhooks.retention` periodic task.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.temporal import datetime_to_json, parse_datetime
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.storage.system_tables import webhook_attempts

RETENTION = timedelta(days=30)
MAX_ERROR_LENGTH = 2000
DELETE_BATCH = 5000
MAX_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    webhook_id: str
    work_item_id: str | None
    event_id: str
    event_type: str
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "work_item_id": self.work_item_id,
            "attempt": self.attempt,
            "at": datetime_to_json(self.at),
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "response_excerpt": self.response_excerpt,
            "error": self.error,
        }


def record(connection: sa.Connection, attempt: Attempt) -> None:
    connection.execute(webhook_attempts.insert().values(
        id=attempt.id, webhook_id=attempt.webhook_id, work_item_id=attempt.work_item_id,
        event_id=attempt.event_id, event_type=attempt.event_type, attempt=attempt.attempt,
        at=attempt.at, status_code=attempt.status_code, latency_ms=attempt.latency_ms,
        response_excerpt=attempt.response_excerpt,
        error=None if attempt.error is None
        else attempt.error.replace("\x00", "")[:MAX_ERROR_LENGTH],
    ))


def _attempt(row: sa.RowMapping) -> Attempt:
    return Attempt(
        id=row["id"], webhook_id=row["webhook_id"], work_item_id=row["work_item_id"],
        event_id=row["event_id"], event_type=row["event_type"], attempt=row["attempt"],
        at=row["at"], status_code=row["status_code"], latency_ms=row["latency_ms"],
        response_excerpt=row["response_excerpt"], error=row["error"],
    )


def newest_first(
    connection: sa.Connection, webhook_id: str, *, limit: int, cursor: str | None = None,
    event_id: str | None = None,
) -> tuple[list[Attempt], str | None]:
    """A page of one subscription's attempts, newest first, and the next page's cursor."""
    table = webhook_attempts
    query = sa.select(table).where(table.c.webhook_id == webhook_id)
    if event_id is not None:
        query = query.where(table.c.event_id == event_id)
    if cursor is not None:
        at, attempt_id = decode_cursor(cursor)
        query = query.where(sa.or_(table.c.at < at,
                                   sa.and_(table.c.at == at, table.c.id < attempt_id)))
    rows = connection.execute(
        query.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit + 1)
    ).mappings().all()
    found = [_attempt(row) for row in rows[:limit]]
    more = len(rows) > limit
    return found, encode_cursor(found[-1]) if more and found else None


def for_event(connection: sa.Connection, webhook_id: str, event_id: str) -> list[Attempt]:
    """Every attempt of one delivery, oldest first."""
    rows = connection.execute(
        sa.select(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id,
                                          webhook_attempts.c.event_id == event_id)
        .order_by(webhook_attempts.c.at, webhook_attempts.c.id)
    ).mappings()
    return [_attempt(row) for row in rows]


def delete_older_than(connection: sa.Connection, cutoff: datetime) -> int:
    """Delete attempts made before `cutoff` (in batches); returns how many."""
    deleted = 0
    while True:
        ids = list(connection.execute(
            sa.select(webhook_attempts.c.id).where(webhook_attempts.c.at < cutoff)
            .limit(DELETE_BATCH)).scalars())
        if not ids:
            return deleted
        connection.execute(sa.delete(webhook_attempts).where(webhook_attempts.c.id.in_(ids)))
        deleted += len(ids)


def encode_cursor(attempt: Attempt) -> str:
    text = json.dumps([datetime_to_json(attempt.at), attempt.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; ValidationFailed (pointer /cursor) when it is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, attempt_id = json.loads(text)
        if (not isinstance(at_text, str) or not isinstance(attempt_id, str)
                or len(attempt_id) > MAX_ID_LENGTH or not attempt_id.isprintable()):
            raise ValueError("not a cursor")
        return parse_datetime(at_text), attempt_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("invalid cursor", [
            ErrorDetail("is not a cursor of this listing", "/cursor")]) from None
