"""The audit trail: who changed which field of which record, when, from what to what.

Rows of `metacrm_audit` are written by the records service in the SAME transaction as the
change they describe, so the trail can never miss a committed change nor describe one that
rolled back. Two forms:

* per field: an update records every changed field, a delete every final value (fields
  without a value are left out), one row each;
* whole record (issue 14, "audit at import speed"): a create is ONE row whose `field` is
  NULL and whose `new` is the object of every initial value (`{}` when there is none) —
  an import of a million records writes a million audit rows, not ten million.

Readers see one form: `entries_for` expands a whole-record row into one entry per field
(same id, in the object's order, which is the entity's field order), so the history API,
the timeline and field security (which filters entries by field) work on both, and rows
written before the whole-record form existed read as they always did. Values are stored in
their JSON form (the API's), so the trail stays readable after the field's type or the
model changes. `owner` appears as a field, so reassignments show up in the history.

`event_id` links the rows of one change to the outbox event published for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.ids import new_id
from metacrm.storage import trailing_writes
from metacrm.storage.system_tables import audit

ACTIONS = ("created", "updated", "deleted", "transitioned", "attached", "detached", "merged",
           "unmerged")
"""`transitioned`: a pipeline transition (the state field and the values set with it)."""
MAX_HISTORY = 10_000
"""Most rows one history call returns (newest first)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row: `old`/`new` are JSON values (None: no value)."""

    entity: str
    record_id: str
    action: str
    field: str | None
    old: Any
    new: Any
    actor: str | None
    at: datetime
    event_id: str | None = None
    id: str = ""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")
        if not self.id:
            object.__setattr__(self, "id", new_id())

    def to_json(self) -> dict[str, Any]:
        """The entry as the history API shows it."""
        return {
            "id": self.id,
            "at": datetime_to_json(self.at),
            "actor": self.actor,
            "action": self.action,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "event_id": self.event_id,
        }


def initialize_audit(connection: sa.Connection) -> None:
    """Create `metacrm_audit` when it does not exist (idempotent)."""
    audit.create(connection, checkfirst=True)


def write_entries(connection: sa.Connection, entries: Sequence[AuditEntry]) -> None:
    """Insert the rows of one change (or of a batch of changes) with one statement, or
    leave them to the unit of work's trailing writes (`metacrm.storage.trailing_writes`)."""
    if not entries:
        return
    rows = [
        {
            "id": entry.id,
            "entity": entry.entity,
            "record_id": entry.record_id,
            "action": entry.action,
            "field": entry.field,
            "old": entry.old,
            "new": entry.new,
            "actor": entry.actor,
            "at": entry.at,
            "event_id": entry.event_id,
        }
        for entry in entries
    ]
    if not trailing_writes.defer(connection, audit, rows):
        connection.execute(audit.insert(), rows)


def whole_record_entry(
    entity: str, record_id: str, values: dict[str, Any], actor: str | None, at: datetime,
    event_id: str | None = None, action: str = "created",
) -> AuditEntry:
    """The one audit row of a create: every initial value (JSON form) in one object."""
    return AuditEntry(entity, record_id, action, None, None,
                      {name: value for name, value in values.items() if value is not None},
                      actor, at, event_id)


def expand(entry: AuditEntry) -> list[AuditEntry]:
    """The entry as per-field entries: a whole-record row becomes one entry per value
    (none: one entry without a field, as a record without values always had)."""
    if entry.field is not None or entry.action != "created" or not isinstance(entry.new, dict):
        return [entry]  # other actions' objects (an attachment's details) stay one entry
    if not entry.new:
        return [replace(entry, new=None)]
    return [replace(entry, field=name, old=None, new=value)
            for name, value in entry.new.items()]


def _entry(row: sa.RowMapping) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        entity=row["entity"],
        record_id=row["record_id"],
        action=row["action"],
        field=row["field"],
        old=row["old"],
        new=row["new"],
        actor=row["actor"],
        at=row["at"],
        event_id=row["event_id"],
    )


def entries_for(
    connection: sa.Connection, entity: str, record_id: str, *, limit: int = MAX_HISTORY
) -> list[AuditEntry]:
    """The trail of one record, newest change first; the rows of one change in the order
    they were written (the entity's field order)."""
    trailing_writes.flush(connection)
    rows = connection.execute(
        sa.select(audit)
        .where(audit.c.entity == entity, audit.c.record_id == record_id)
        .order_by(audit.c.at.desc(), audit.c.event_id.desc(), audit.c.id.asc())
        .limit(limit)
    ).mappings()
    return [expanded for row in rows for expanded in expand(_entry(row))]


def was_deleted(connection: sa.Connection, entity: str, record_id: str) -> bool:
    """Whether the trail records the deletion of this record."""
    trailing_writes.flush(connection)
    found = connection.execute(
        sa.select(audit.c.id)
        .where(audit.c.entity == entity, audit.c.record_id == record_id,
               audit.c.action == "deleted")
        .limit(1)
    ).first()
    return found is not None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """The rows of one change (one event), for the timeline: `key` orders events that
    share an instant (the event id, or the row id of a row written without one)."""

    at: datetime
    key: str
    entries: tuple[AuditEntry, ...]


def _event_key() -> sa.ColumnElement[str]:
    return sa.func.coalesce(audit.c.event_id, audit.c.id)


def events_before(
    connection: sa.Connection, entity: str, record_id: str, *,
    before: tuple[datetime, str] | None, limit: int,
) -> list[AuditEvent]:
    """Up to `limit` changes of one record strictly before the position `(at, key)`,
    newest first: two indexed queries (which events, then their rows)."""
    trailing_writes.flush(connection)
    key = _event_key()
    where: list[sa.ColumnElement[bool]] = [audit.c.entity == entity,
                                          audit.c.record_id == record_id]
    if before is not None:
        at, last = before
        where.append(sa.or_(audit.c.at < at, sa.and_(audit.c.at == at, key < last)))
    heads = connection.execute(
        sa.select(audit.c.at, key.label("key")).where(*where)
        .group_by(audit.c.at, key).order_by(audit.c.at.desc(), key.desc()).limit(limit)
    ).all()
    if not heads:
        return []
    keys = [str(row.key) for row in heads]
    rows = connection.execute(
        sa.select(audit, key.label("key"))
        .where(audit.c.entity == entity, audit.c.record_id == record_id, key.in_(keys))
        .order_by(audit.c.id.asc())
    ).mappings()
    grouped: dict[str, list[AuditEntry]] = {k: [] for k in keys}
    for row in rows:  # a whole-record row reads as its per-field entries, like entries_for
        grouped[str(row["key"])].extend(expand(_entry(row)))
    return [AuditEvent(row.at, str(row.key), tuple(grouped[str(row.key)])) for row in heads]
