"""The dispatch table: work items, the database's record of asynchronous work.

One row per (consumer, target, event) — written in a database transaction (by the outbox
relay, or by a caller's own transaction through `insert_items`), then handed to the job
queue by id. The row, not the queue, says what still has to happen:

* `pending` — to run at `next_attempt_at` (`queued_at`: when it was last handed to the queue;
  NULL = not in the queue now);
* `running` — claimed by a worker until `lease_until`; a worker that dies leaves the item
  running with an expired lease, and `claim` hands it out again;
* `done` / `failed` — finished (`failed`: given up, `last_error` says why).

Every state change is one conditional UPDATE (`claim` only succeeds for a due pending item or
a running one whose lease expired), so two workers never both hold an item within a lease,
and a finished attempt only records its outcome when the item is still its own
(`attempts` matches). No Flask here; both SQLite and PostgreSQL are supported
(`INSERT ... ON CONFLICT DO NOTHING` and `UPDATE ... RETURNING` on both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.storage.outbox import OutboxEvent
from metacrm.storage.system_tables import outbox, work_items

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
STATUSES = (PENDING, RUNNING, DONE, FAILED)

MAX_ERROR_LENGTH = 2000
"""`last_error` keeps this many characters of an attempt's error."""

INSERT_CHUNK = 500
"""Rows per INSERT statement (15 parameters each: well below SQLite's parameter limit)."""


@dataclass(frozen=True, slots=True)
class NewWorkItem:
    """A work item to create: `consumer` handles `event` for `target`."""

    consumer: str
    target: str
    event: EventRecord


@dataclass(frozen=True, slots=True)
class WorkItemRow:
    """One row of the dispatch table."""

    id: str
    consumer: str
    target: str
    event: EventRecord
    status: str
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime
    lease_until: datetime | None
    queued_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None


def _row(row: sa.RowMapping) -> WorkItemRow:
    return WorkItemRow(
        id=row["id"],
        consumer=row["consumer"],
        target=row["target"],
        event=EventRecord(
            id=row["event_id"], type=row["event_type"], entity=row["entity"],
            record_id=row["record_id"], payload=row["payload"],
            created_at=row["event_created_at"],
        ),
        status=row["status"],
        attempts=row["attempts"],
        first_attempt_at=row["first_attempt_at"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        queued_at=row["queued_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        done_at=row["done_at"],
    )


def _insert(connection: sa.Connection) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(work_items)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(work_items)
    raise ValueError(f"unsupported database {connection.dialect.name!r}")


def insert_items(
    connection: sa.Connection, items: Sequence[NewWorkItem], now: datetime, *,
    queued: bool = False,
) -> list[str]:
    """Create the items that do not exist yet, due at `now`; returns the new ids (an item
    whose (consumer, target, event) exists already is left alone). `queued`: the caller
    hands the new ids to the queue right after the commit (`queued_at` = now)."""
    if not items:
        return []
    values = [
        {
            "id": new_id(),
            "consumer": item.consumer,
            "target": item.target,
            "event_id": item.event.id,
            "event_type": item.event.type,
            "entity": item.event.entity,
            "record_id": item.event.record_id,
            "payload": dict(item.event.payload),
            "event_created_at": item.event.created_at,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "queued_at": now if queued else None,
            "created_at": now,
            "updated_at": now,
        }
        for item in items
    ]
    created: list[str] = []
    for start in range(0, len(values), INSERT_CHUNK):
        statement = (
            _insert(connection).values(values[start:start + INSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["consumer", "target", "event_id"])
            .returning(work_items.c.id)
        )
        created.extend(connection.execute(statement).scalars())
    return created


def claim(
    connection: sa.Connection, item_id: str, now: datetime, lease: timedelta
) -> WorkItemRow | None:
    """Take the item for one attempt — when it is pending and due, or running with an
    expired lease — counting the attempt; None when it is not to be run now."""
    claimable = sa.or_(
        sa.and_(work_items.c.status == PENDING, work_items.c.next_attempt_at <= now),
        sa.and_(work_items.c.status == RUNNING, work_items.c.lease_until < now),
    )
    row = connection.execute(
        sa.update(work_items)
        .where(work_items.c.id == item_id, claimable)
        .values(
            status=RUNNING,
            attempts=work_items.c.attempts + 1,
            lease_until=now + lease,
            first_attempt_at=sa.func.coalesce(work_items.c.first_attempt_at, now),
            queued_at=None,
            updated_at=now,
        )
        .returning(*work_items.c)
    ).mappings().first()
    return None if row is None else _row(row)


def _own_attempt(item_id: str, attempt: int) -> sa.ColumnElement[bool]:
    return sa.and_(work_items.c.id == item_id, work_items.c.status == RUNNING,
                   work_items.c.attempts == attempt)


def complete(connection: sa.Connection, item_id: str, attempt: int, now: datetime) -> bool:
    """Attempt `attempt` succeeded; False when the item was handed to someone else since."""
    result = connection.execute(
        sa.update(work_items).where(_own_attempt(item_id, attempt))
        .values(status=DONE, lease_until=None, done_at=now, updated_at=now)
    )
    return bool(result.rowcount)


def reschedule(
    connection: sa.Connection, item_id: str, attempt: int, at: datetime, error: str,
    now: datetime,
) -> bool:
    """Attempt `attempt` failed; try again at `at`."""
    result = connection.execute(
        sa.update(work_items).where(_own_attempt(item_id, attempt))
        .values(status=PENDING, next_attempt_at=at, lease_until=None, queued_at=None,
                last_error=error[:MAX_ERROR_LENGTH], updated_at=now)
    )
    return bool(result.rowcount)


def fail(
    connection: sa.Connection, item_id: str, attempt: int, error: str, now: datetime
) -> bool:
    """Attempt `attempt` failed for good: stop trying."""
    result = connection.execute(
        sa.update(work_items).where(_own_attempt(item_id, attempt))
        .values(status=FAILED, lease_until=None, done_at=now,
                last_error=error[:MAX_ERROR_LENGTH], updated_at=now)
    )
    return bool(result.rowcount)


def due_for_enqueue(
    connection: sa.Connection, now: datetime, requeue_after: timedelta, *,
    limit: int = 1000, fresh_only: bool = False, requeue_queued: bool = True,
    lock: bool = False,
) -> list[str]:
    """Ids of items a worker should be told about, oldest due first:

    * pending and due, never handed to the queue or taken off it by a claim (`queued_at`
      NULL) — the only kind with `fresh_only`;
    * pending and due, handed to the queue more than `requeue_after` ago — the queue may
      have lost it (Redis restarted empty) — unless `requeue_queued` is False (the queue
      still holds a backlog: the item is most likely waiting in it);
    * running with an expired lease (its worker died), not handed out again lately.

    `lock` (PostgreSQL): lock the rows, skipping those another sweeper holds, so two
    sweepers hand out disjoint items."""
    c = work_items.c
    pending_due = sa.and_(c.status == PENDING, c.next_attempt_at <= now)
    requeue = sa.or_(c.queued_at.is_(None), c.queued_at < now - requeue_after)
    kinds = [sa.and_(pending_due, c.queued_at.is_(None))]
    if not fresh_only:
        if requeue_queued:
            kinds.append(sa.and_(pending_due, c.queued_at < now - requeue_after))
        kinds.append(sa.and_(c.status == RUNNING, c.lease_until < now, requeue))
    query = (
        sa.select(c.id).where(sa.or_(*kinds))
        .order_by(c.next_attempt_at, c.id).limit(limit)
    )
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(connection.execute(query).scalars())


def mark_queued(
    connection: sa.Connection, item_ids: Sequence[str], at: datetime | None
) -> None:
    """Record that the items were handed to the queue at `at` (None: they were not — the
    queue refused them — so the sweeper offers them again at once)."""
    if item_ids:
        connection.execute(
            sa.update(work_items).where(work_items.c.id.in_(list(item_ids)),
                                        work_items.c.status.in_((PENDING, RUNNING)))
            .values(queued_at=at)
        )


def retry_now(connection: sa.Connection, item_id: str, now: datetime) -> bool:
    """Run the item again as soon as possible (a manual redelivery): a done, failed or
    pending item becomes pending and due now. False when there is no such item or it is
    running (a running attempt's outcome decides). Attempts keep counting."""
    result = connection.execute(
        sa.update(work_items)
        .where(work_items.c.id == item_id, work_items.c.status != RUNNING)
        .values(status=PENDING, next_attempt_at=now, queued_at=None, lease_until=None,
                done_at=None, updated_at=now)
    )
    return bool(result.rowcount)


def delete_finished(connection: sa.Connection, before: datetime, *, limit: int = 1000) -> int:
    """Delete up to `limit` done or failed items that finished before `before` (retention);
    returns how many."""
    doomed = (
        sa.select(work_items.c.id)
        .where(work_items.c.status.in_((DONE, FAILED)), work_items.c.done_at < before)
        .limit(limit).scalar_subquery()
    )
    result = connection.execute(sa.delete(work_items).where(work_items.c.id.in_(doomed)))
    return int(result.rowcount)


def get(connection: sa.Connection, item_id: str) -> WorkItemRow | None:
    row = connection.execute(
        sa.select(work_items).where(work_items.c.id == item_id)).mappings().first()
    return None if row is None else _row(row)


def find(
    connection: sa.Connection, consumer: str, target: str, event_id: str
) -> WorkItemRow | None:
    """The item of (consumer, target, event), if any."""
    row = connection.execute(
        sa.select(work_items).where(
            work_items.c.consumer == consumer, work_items.c.target == target,
            work_items.c.event_id == event_id)
    ).mappings().first()
    return None if row is None else _row(row)


def list_for(
    connection: sa.Connection, consumer: str, target: str, *,
    statuses: Sequence[str] = (), limit: int = 100, before_id: str | None = None,
) -> list[WorkItemRow]:
    """The items of one consumer and target, newest first (by id: UUIDv7 sorts by creation
    time); `before_id` continues a listing after the last id seen."""
    query = sa.select(work_items).where(
        work_items.c.consumer == consumer, work_items.c.target == target)
    if statuses:
        query = query.where(work_items.c.status.in_(list(statuses)))
    if before_id is not None:
        query = query.where(work_items.c.id < before_id)
    rows = connection.execute(query.order_by(work_items.c.id.desc()).limit(limit)).mappings()
    return [_row(row) for row in rows]


def count_by_status(
    connection: sa.Connection, consumer: str | None = None
) -> Mapping[str, int]:
    """How many items are in each status (of one consumer, or all): health and tests."""
    query = sa.select(work_items.c.status, sa.func.count()).group_by(work_items.c.status)
    if consumer is not None:
        query = query.where(work_items.c.consumer == consumer)
    counts = {status: 0 for status in STATUSES}
    counts.update({status: int(n) for status, n in connection.execute(query).all()})
    return counts


def take_pending_events(connection: sa.Connection, limit: int) -> list[OutboxEvent]:
    """The oldest unpublished outbox events, locked for this transaction. PostgreSQL: rows
    another relay holds are skipped (`FOR UPDATE SKIP LOCKED`), so relays run side by side
    on disjoint events; SQLite: the caller holds the database's write lock."""
    query = (
        sa.select(outbox).where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id).limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = connection.execute(query).mappings()
    return [
        OutboxEvent(id=row["id"], type=row["type"], entity=row["entity"],
                    record_id=row["record_id"], payload=row["payload"],
                    created_at=row["created_at"], published_at=row["published_at"])
        for row in rows
    ]


def has_pending_events(connection: sa.Connection) -> bool:
    """Whether any outbox event waits to be published (a cheap read before locking)."""
    return connection.execute(
        sa.select(outbox.c.id).where(outbox.c.published_at.is_(None)).limit(1)
    ).first() is not None
