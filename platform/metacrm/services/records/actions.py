"""Which buttons a record page offers: may the subject edit, delete or move this record now?

The record page shows Edit, Delete and transition buttons only when the action would be
accepted, so it asks the same rules the records service enforces — the update/delete scope
checked on the record itself, and the locked states of its pipelines — without writing
anything. The service still refuses a forced request on its own; this only spares users
buttons that cannot work. `records_actions` answers the same for a page of records at once
(lists render cells of the others read-only, boards do not let their cards be dragged).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from metacrm.access.scoped_reads import ScopedReads, storable_id
from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Forbidden
from metacrm.services.records.runtime import RecordsRuntime
from metacrm.services.records.service import RecordsService
from metacrm.storage.record_codec import Record


@dataclass(frozen=True, slots=True)
class RecordActions:
    """What the subject may do to one record now."""

    update: bool
    """Inside the update scope and not in a state locked for the subject."""
    delete: bool
    """Inside the delete scope and not in a state locked for the subject."""
    transition: bool
    """Inside the update scope (transitions out of a locked state are not edits)."""
    locked: str | None = None
    """Why edits are refused by a locked state, when they are."""


NOTHING = RecordActions(update=False, delete=False, transition=False)


def record_actions(records: RecordsService, subject: AccessSubject, entity: str,
                   record_id: str) -> RecordActions:
    """The actions open to `subject` on the record (nothing when it is out of sight)."""
    runtime = records.runtime()
    scoped = runtime.scoped(subject)
    if not storable_id(record_id) or not scoped.scope(entity, "read").allowed:
        return NOTHING
    with records.engine.connect() as conn:
        record = scoped.readable(conn, entity, record_id)
    if record is None:
        return NOTHING
    return _actions(runtime, scoped, subject, entity, record)


def records_actions(records: RecordsService, subject: AccessSubject, entity: str,
                    ids: Iterable[str]) -> dict[str, RecordActions]:
    """`record_actions` of many records in one query (ids out of sight are left out)."""
    runtime = records.runtime()
    scoped = runtime.scoped(subject)
    if not scoped.scope(entity, "update").allowed:
        return {}
    with records.engine.connect() as conn:
        found = scoped.fetch(conn, entity, ids)
    return {record_id: _actions(runtime, scoped, subject, entity, record)
            for record_id, record in found.items()}


def _actions(runtime: RecordsRuntime, scoped: ScopedReads, subject: AccessSubject,
             entity: str, record: Record) -> RecordActions:
    may_update = (scoped.scope(entity, "update").allowed
                  and scoped.check(entity, "update")(record))
    may_delete = (scoped.scope(entity, "delete").allowed
                  and scoped.check(entity, "delete")(record))
    locked = None
    try:
        runtime.states.check_unlocked(entity, record, subject.roles,
                                      admin=runtime.policy.is_admin(subject))
    except Forbidden as refusal:
        locked = refusal.errors[0].message if refusal.errors else refusal.message
    return RecordActions(update=may_update and locked is None,
                         delete=may_delete and locked is None,
                         transition=may_update, locked=locked)
