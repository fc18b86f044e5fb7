"""Records as they stood at a past instant, rebuilt from the audit trail ("as of" runs).

The audit trail (`metacrm.storage.audit`) has every committed change: a create as one
whole-record row (or, written before that form, one row per field), updates, transitions
and deletes one row per field. Replaying the rows up to the instant gives each record's
field values then (the last entry of each field before it), its pipeline state then, and
whether it existed (created before, not yet deleted).

Which records a subject sees is decided by their **current** rights, on the records as
they are **now**: a record still alive counts when the subject's read scope holds its live
row today (the same SQL condition every read uses); a record deleted since counts only for
a subject whose read scope is `all` without rules, since no scope condition can be
evaluated on a row that no longer exists, and counting it for a narrower scope could leak
it. Field security is the current one: a field hidden from the subject cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.metadata.model import EntityDef
from metacrm.storage import trailing_writes
from metacrm.storage.system_tables import audit

VALUE_ACTIONS = frozenset({"created", "updated", "transitioned"})
"""Actions whose per-field rows set a field's value."""


@dataclass(slots=True)
class PastRecord:
    """One record at the instant: JSON values of its fields (the API's form)."""

    id: str
    values: dict[str, Any] = field(default_factory=dict)
    alive: bool = False
    deleted_since: bool = False
    """Deleted after the instant (exists no more)."""


def replay(rows: Iterable[Any], instant: datetime) -> dict[str, PastRecord]:
    """Every record of the rows (audit rows with record_id, action, field, new, at;
    ordered by time) as it stood at `instant`."""
    records: dict[str, PastRecord] = {}
    for row in rows:
        record = records.setdefault(row.record_id, PastRecord(row.record_id))
        if row.at > instant:
            if row.action == "deleted":
                record.deleted_since = True
            continue
        if row.action == "created":
            if not record.alive:  # a create (or a restore) starts the record anew
                record.values = {"created_at": row.at}
                record.alive = True
            if row.field is None and isinstance(row.new, dict):
                record.values.update(row.new)
            elif row.field is not None:
                record.values[row.field] = row.new
        elif row.action == "deleted":
            record.alive = False
            record.deleted_since = False
        elif row.action in VALUE_ACTIONS and row.field is not None and record.alive:
            record.values[row.field] = row.new
        if record.alive:
            record.values["updated_at"] = row.at
    return records


def past_records(conn: sa.Connection, entity: EntityDef, table: sa.Table,
                 scope: sa.ColumnElement[bool] | None, unrestricted: bool,
                 instant: datetime) -> list[PastRecord]:
    """The records of `entity` alive at `instant` that the scope lets through (see the
    module docstring), ordered by id."""
    trailing_writes.flush(conn)
    rows = conn.execute(
        sa.select(audit.c.record_id, audit.c.action, audit.c.field, audit.c.new, audit.c.at)
        .where(audit.c.entity == entity.name)
        .order_by(audit.c.at, audit.c.event_id, audit.c.id))
    records = replay(rows, instant)
    live = sa.select(table.c.id)
    if scope is not None:
        live = live.where(scope)
    readable = {str(row[0]) for row in conn.execute(live)}
    return [record for record_id, record in sorted(records.items())
            if record.alive and (record_id in readable
                                 or (unrestricted and record.deleted_since))]
