"""Stored answers of requests sent with an `Idempotency-Key` (table `metacrm_idempotency_keys`).

One row per (user, key): the hash of the request, and — once it succeeded — the status,
headers and body of its answer. A retry of the same request gets that answer again instead
of creating a second record; the same key with a different request is refused. A row
without an answer is a request still in progress (a concurrent retry waits for it); one
older than `IN_PROGRESS_TIMEOUT` is taken to be abandoned (its process died) and is taken
over. Rows expire after `RETENTION`.

Each step is its own short transaction, separate from the request's unit of work: the key
must be reserved before the work starts, so two concurrent retries cannot both do it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from metacrm.storage.system_tables import IDEMPOTENCY_KEY_LENGTH, idempotency_keys

RETENTION = timedelta(hours=24)
IN_PROGRESS_TIMEOUT = timedelta(minutes=5)
KEY_LENGTH = IDEMPOTENCY_KEY_LENGTH


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer the first request with this key got."""

    status: int
    headers: Mapping[str, str]
    body: str


@dataclass(frozen=True, slots=True)
class Reserved:
    """The key is now held by this request: do the work, then `complete` or `release`."""


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request with this key is being processed right now."""


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key was used for a different request."""


Outcome = StoredAnswer | Reserved | InProgress | KeyReused


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _row_filter(user_id: str, key: str) -> sa.ColumnElement[bool]:
    return sa.and_(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)


def reserve(
    engine: sa.Engine, user_id: str, key: str, request_hash: str,
    *, now: datetime | None = None,
) -> Outcome:
    """Hold `key` for this request, or say why not (a stored answer, in progress, reused)."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(idempotency_keys.delete().where(
            _row_filter(user_id, key), idempotency_keys.c.created_ms < _ms(now - RETENTION)))
    try:
        with engine.begin() as connection:
            connection.execute(idempotency_keys.insert().values(
                user_id=user_id, key=key, request_hash=request_hash, created_ms=_ms(now)))
        return Reserved()
    except sa.exc.IntegrityError:
        pass
    with engine.begin() as connection:
        row = connection.execute(
            sa.select(idempotency_keys).where(_row_filter(user_id, key))
        ).mappings().first()
        if row is None:  # expired and deleted in between: the caller may simply retry
            return InProgress()
        if row["request_hash"] != request_hash:
            return KeyReused()
        if row["status"] is not None:
            return StoredAnswer(int(row["status"]), _headers(row["headers"]), row["body"] or "")
        if row["created_ms"] >= _ms(now - IN_PROGRESS_TIMEOUT):
            return InProgress()
        taken = connection.execute(
            idempotency_keys.update()
            .where(_row_filter(user_id, key), idempotency_keys.c.status.is_(None),
                   idempotency_keys.c.created_ms == row["created_ms"])
            .values(created_ms=_ms(now))
        ).rowcount
    return Reserved() if taken == 1 else InProgress()


def complete(
    engine: sa.Engine, user_id: str, key: str, *, status: int,
    headers: Mapping[str, str], body: str,
) -> None:
    """Store the answer of the request holding `key`."""
    with engine.begin() as connection:
        connection.execute(
            idempotency_keys.update().where(_row_filter(user_id, key)).values(
                status=status, headers=json.dumps(dict(headers)), body=body))


def release(engine: sa.Engine, user_id: str, key: str) -> None:
    """Give `key` up (the request failed and changed nothing): a retry runs it again."""
    with engine.begin() as connection:
        connection.execute(idempotency_keys.delete().where(
            _row_filter(user_id, key), idempotency_keys.c.status.is_(None)))


def _headers(text: Any) -> dict[str, str]:
    if not text:
        return {}
    loaded = json.loads(text)
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
