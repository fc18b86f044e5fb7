"""Records as they stood at a past instant, rolled back from today's rows through the audit
trail after the instant ("as of" runs).

The audit trail (`metacrm.storage.audit`) has every committed change with the value before
it (`old`): updates and transitions one row per changed field, a delete one row per final
value, a create one whole-record row (or, written before that form, one row per field).
So the records then are today's records with the trail's rows AFTER the instant undone,
newest first: an update or a transition puts its field's old value back, a delete brings
the record back with its final values, a create removes it (it did not exist yet). Only
the rows after the instant are read — through the (entity, at) index — so a run as of last
month costs last month's changes plus one pass over today's rows, however long the
history before it. Today's rows created after the instant are left out in SQL.

Which records a subject sees is decided by their **current** rights, on the records as
they are **now**: a record still alive counts when the subject's read scope holds its live
row today (the same SQL condition every read uses); a record deleted since counts only for
a subject whose read scope is `all` without rules, since no scope condition can be
evaluated on a row that no longer exists, and counting it for a narrower scope could leak
it. Field security is the current one: a field hidden from the subject cannot be read.

What the trail does not hold is taken from today's row: a value written without an audit
row (a column added to existing rows with its default, a reference repointed by a merge)
reads as it is today.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.metadata.model import EntityDef
from metacrm.storage import trailing_writes
from metacrm.storage.repository import RecordRepository
from metacrm.storage.system_tables import audit

VALUE_ACTIONS = frozenset({"updated", "transitioned"})
"""Actions whose per-field rows changed a field's value (undone with the row's `old`)."""
BATCH = 5_000
"""Today's rows read at a time (a keyset walk by id)."""
IDS_PER_QUERY = 500
"""Record ids per `IN (...)` when the trail's times of some records are looked up."""

Decode = Callable[[str, Any], Any]
"""A field's value in the trail's JSON form -> the value as today's rows hold it."""


@dataclass(slots=True)
class PastRecord:
    """One record at the instant: its values (today's form) and what happened since."""

    id: str
    values: dict[str, Any] = field(default_factory=dict)
    alive: bool = True
    """Existed at the instant."""
    changed_since: bool = False
    """The trail has rows of it after the instant (its `updated_at` then is older)."""


def roll_back(today: Mapping[str, Mapping[str, Any]], rows: Iterable[Any],
              wanted: Collection[str], decode: Decode) -> dict[str, PastRecord]:
    """The records at the instant: `today`'s records (id -> values) with `rows` undone
    (the audit rows after the instant, newest first: record_id, action, field, old).
    Only the `wanted` fields are put back, each decoded once (its oldest value after the
    instant is the one it had then). Records of the rows missing from `today` start as
    not existing now (deleted since, or outside what `today` holds)."""
    records = {record_id: PastRecord(record_id, dict(values))
               for record_id, values in today.items()}
    undone: dict[str, dict[str, Any]] = {}
    """Per record, the trail's value (JSON form) of each field put back, not yet decoded."""
    for row in rows:
        record = records.get(row.record_id)
        if record is None:
            record = records[row.record_id] = PastRecord(row.record_id, alive=False)
        record.changed_since = True
        if row.action == "created":  # before its create (or restore) it did not exist
            record.alive = False
            record.values = {}
            undone.pop(record.id, None)
        elif row.action == "deleted":
            if not record.alive:  # the newest row of the deletion: the record is back
                record.alive = True
                record.values = {}
                undone.pop(record.id, None)
            if row.field is not None and row.field in wanted:
                undone.setdefault(record.id, {})[row.field] = row.old
        elif (row.action in VALUE_ACTIONS and record.alive and row.field is not None
              and row.field in wanted):
            undone.setdefault(record.id, {})[row.field] = row.old
    for record_id, values in undone.items():
        record = records[record_id]
        if record.alive:
            record.values.update((name, decode(name, raw)) for name, raw in values.items())
    return records


STAMPS = frozenset({"created_at", "created_by", "updated_at", "updated_by"})
"""System columns the trail's times and actors give back for records changed since."""


def past_records(conn: sa.Connection, repository: RecordRepository, entity: EntityDef,
                 scope: sa.ColumnElement[bool] | None, unrestricted: bool,
                 instant: datetime, wanted: Collection[str], decode: Decode
                 ) -> list[PastRecord]:
    """The records of `entity` alive at `instant` that the scope lets through (see the
    module docstring) with their `wanted` fields and system columns, ordered by id."""
    trailing_writes.flush(conn)
    table = repository.table(entity.name)
    condition = table.c.created_at <= instant
    if scope is not None:
        condition = sa.and_(condition, scope)
    today = _today(conn, repository, entity, condition, wanted)
    after = sa.select(audit.c.record_id, audit.c.action, audit.c.field, audit.c.old).where(
        audit.c.entity == entity.name, audit.c.at > instant)
    stamps = bool(STAMPS & set(wanted))
    if not stamps:  # only the rows of wanted fields (any row moves `updated_at`)
        after = after.where(sa.or_(audit.c.action.in_(("created", "deleted")),
                                   audit.c.field.in_(list(wanted))))
    rows = conn.execute(
        after.order_by(audit.c.at.desc(), audit.c.event_id.desc(), audit.c.id.desc()))
    records = roll_back(today, rows, wanted, decode)
    kept = [record for record_id, record in sorted(records.items())
            if record.alive and (record_id in today or unrestricted)]
    if stamps:
        _restamp(conn, entity.name, [r for r in kept if r.changed_since], instant)
    return kept


def _today(conn: sa.Connection, repository: RecordRepository, entity: EntityDef,
           condition: sa.ColumnElement[bool], wanted: Collection[str]
           ) -> dict[str, dict[str, Any]]:
    """Today's records under `condition` (id -> their `wanted` values), read in batches."""
    fields = [name for name in wanted if entity.field(name) is not None]
    today: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        batch = repository.rows_after(conn, entity.name, where=condition, fields=fields,
                                      after=after, limit=BATCH)
        for record in batch:
            today[record["id"]] = {name: record.get(name) for name in wanted}
        if len(batch) < BATCH:
            return today
        after = batch[-1]["id"]


def _restamp(conn: sa.Connection, entity: str, records: list[PastRecord],
             instant: datetime) -> None:
    """The system columns of records changed since, as the trail up to the instant has
    them: `updated_*` from its last row of the record, `created_*` from its last create
    (today's row has the later change's, or no row is left)."""
    for start in range(0, len(records), IDS_PER_QUERY):
        chunk = {record.id: record for record in records[start:start + IDS_PER_QUERY]}
        rows = conn.execute(
            sa.select(audit.c.record_id, audit.c.action, audit.c.actor, audit.c.at)
            .where(audit.c.entity == entity, audit.c.record_id.in_(list(chunk)),
                   audit.c.at <= instant)
            .order_by(audit.c.at, audit.c.event_id, audit.c.id))
        for row in rows:
            values = chunk[row.record_id].values
            values["updated_at"], values["updated_by"] = row.at, row.actor
            if row.action == "created":
                values["created_at"], values["created_by"] = row.at, row.actor
