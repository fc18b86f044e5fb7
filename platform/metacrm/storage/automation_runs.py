"""The automation runs log and the claims of time and cron triggers (SQL only, no Flask).

Runs: one row per trigger run — `ok`, `failed` or `skipped` with the reason — listed newest
first (ids are UUIDv7, so they sort by time). An async run claims its `run_key`
(`<trigger>:<event id>`) by inserting its row first, in the transaction of its actions: a
second delivery of the same work item finds the key taken and does nothing; a run that fails
rolls its row back, and the failure is logged afterwards without a key, so a retry can claim
it again.

Claims: (trigger, subject, moment) rows inserted with `ON CONFLICT DO NOTHING`; whoever
inserts the row fired it, so two schedulers ticking at once fire each due record or cron
slot once. Both SQLite and PostgreSQL support the statement (and `RETURNING`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from metacrm.kernel.ids import first_id_at, new_id
from metacrm.storage.system_tables import automation_claims, automation_runs

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"
STATUSES = (OK, FAILED, SKIPPED)

MAX_REASON_LENGTH = 4000
INSERT_CHUNK = 500


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One run as logged."""

    trigger: str
    entity: str
    record_id: str | None
    event_id: str | None
    mode: str
    status: str
    started_at: datetime
    reason: str | None = None
    result: Any = None
    duration_ms: int | None = None
    attempt: int | None = None
    chain_id: str | None = None
    run_key: str | None = None
    id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "entity": self.entity,
            "record_id": self.record_id,
            "event_id": self.event_id,
            "mode": self.mode,
            "status": self.status,
            "reason": self.reason,
            "result": self.result,
            "duration_ms": self.duration_ms,
            "attempt": self.attempt,
            "chain_id": self.chain_id,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
        }


def _values(entry: RunEntry) -> dict[str, Any]:
    return {
        "id": entry.id or new_id(),
        "trigger": entry.trigger,
        "entity": entry.entity,
        "record_id": entry.record_id,
        "event_id": entry.event_id,
        "mode": entry.mode,
        "status": entry.status,
        "reason": None if entry.reason is None else entry.reason[:MAX_REASON_LENGTH],
        "result": entry.result,
        "duration_ms": entry.duration_ms,
        "attempt": entry.attempt,
        "chain_id": entry.chain_id,
        "started_at": entry.started_at,
        "run_key": entry.run_key,
    }


def _insert(connection: sa.Connection, table: sa.Table) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database {connection.dialect.name!r}")


def log_run(connection: sa.Connection, entry: RunEntry) -> str:
    """Add a finished run to the log; returns its id."""
    values = _values(entry)
    connection.execute(automation_runs.insert().values(values))
    return str(values["id"])


def claim_run(connection: sa.Connection, entry: RunEntry) -> str | None:
    """Insert the run's row unless its `run_key` is taken; its id, or None when another
    delivery of the same work has run (or is running) it."""
    if not entry.run_key:
        raise ValueError("claim_run needs a run_key")
    statement = (
        _insert(connection, automation_runs).values(_values(entry))
        .on_conflict_do_nothing(index_elements=["run_key"])
        .returning(automation_runs.c.id)
    )
    return connection.execute(statement).scalar()


def finish_run(
    connection: sa.Connection, run_id: str, *, status: str, reason: str | None = None,
    result: Any = None, duration_ms: int | None = None,
) -> None:
    """Record the outcome of a claimed run."""
    connection.execute(
        sa.update(automation_runs).where(automation_runs.c.id == run_id).values(
            status=status, reason=None if reason is None else reason[:MAX_REASON_LENGTH],
            result=result, duration_ms=duration_ms)
    )


def _entry(row: sa.RowMapping) -> RunEntry:
    return RunEntry(
        id=row["id"], trigger=row["trigger"], entity=row["entity"],
        record_id=row["record_id"], event_id=row["event_id"], mode=row["mode"],
        status=row["status"], started_at=row["started_at"], reason=row["reason"],
        result=row["result"], duration_ms=row["duration_ms"], attempt=row["attempt"],
        chain_id=row["chain_id"], run_key=row["run_key"],
    )


def list_runs(
    connection: sa.Connection, *, trigger: str | None = None, record_id: str | None = None,
    status: str | None = None, limit: int = 50, before_id: str | None = None,
) -> list[RunEntry]:
    """Runs, newest first; `before_id` continues after the last id of the previous page."""
    query = sa.select(automation_runs)
    if trigger is not None:
        query = query.where(automation_runs.c.trigger == trigger)
    if record_id is not None:
        query = query.where(automation_runs.c.record_id == record_id)
    if status is not None:
        query = query.where(automation_runs.c.status == status)
    if before_id is not None:
        query = query.where(automation_runs.c.id < before_id)
    rows = connection.execute(query.order_by(automation_runs.c.id.desc()).limit(limit))
    return [_entry(row) for row in rows.mappings()]


def runs_of_event(connection: sa.Connection, event_id: str) -> list[RunEntry]:
    """Every run logged for one event, oldest first (diagnostics and tests)."""
    rows = connection.execute(
        sa.select(automation_runs).where(automation_runs.c.event_id == event_id)
        .order_by(automation_runs.c.id))
    return [_entry(row) for row in rows.mappings()]


def delete_runs_before(connection: sa.Connection, before: datetime) -> int:
    """Forget runs started before `before` (run ids are UUIDv7: an id range, no scan)."""
    bound = first_id_at(int(before.timestamp() * 1000))
    result = connection.execute(sa.delete(automation_runs).where(automation_runs.c.id < bound))
    return int(result.rowcount)


# --- claims of time and cron triggers ---------------------------------------------------------

SLOT_SUBJECT = "*"
"""The subject of a cron slot's claim (a slot belongs to no single record)."""


def claim_moments(
    connection: sa.Connection, trigger: str, claims: Iterable[tuple[str, str]], now: datetime
) -> set[tuple[str, str]]:
    """Claim (subject, moment) pairs of `trigger`; returns those this call claimed (pairs
    claimed before, by anyone, are left out)."""
    values = [{"trigger": trigger, "subject": subject, "moment": moment, "claimed_at": now}
              for subject, moment in dict.fromkeys(claims)]
    claimed: set[tuple[str, str]] = set()
    for start in range(0, len(values), INSERT_CHUNK):
        statement = (
            _insert(connection, automation_claims).values(values[start:start + INSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["trigger", "subject", "moment"])
            .returning(automation_claims.c.subject, automation_claims.c.moment)
        )
        claimed.update((str(s), str(m)) for s, m in connection.execute(statement))
    return claimed


def last_claimed(connection: sa.Connection, trigger: str, subject: str) -> str | None:
    """The latest moment claimed for (trigger, subject)."""
    return connection.execute(
        sa.select(sa.func.max(automation_claims.c.moment)).where(
            automation_claims.c.trigger == trigger, automation_claims.c.subject == subject)
    ).scalar()


def prune_claims(connection: sa.Connection, claimed_before: datetime) -> int:
    """Forget claims made before `claimed_before` (older than any look-back window)."""
    result = connection.execute(
        sa.delete(automation_claims).where(automation_claims.c.claimed_at < claimed_before))
    return int(result.rowcount)
