"""Record changes as facts: audit rows and outbox events, in the change's transaction.

The records service calls `ChangeRecorder` on the connection that made the change, right
after it, so the row, its audit entries and its event commit together or not at all.
Audit rows: one per record created (all its values, the whole-record form) and one per
field changed or deleted (see `metacrm.storage.audit`); events: one per record
(`record.created`, `record.updated` with the changed fields and their previous values,
`record.transitioned` likewise plus the transition, `record.deleted`), carrying the whole
record in JSON form (see `metacrm.storage.outbox`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.delete_effects import Deletion
from metacrm.metadata.model import CompiledModel
from metacrm.services.records.event_chain import with_chain
from metacrm.services.records.json_values import RecordJson
from metacrm.storage import audit, outbox
from metacrm.storage.audit import AuditEntry
from metacrm.storage.outbox import OutboxEvent
from metacrm.storage.record_codec import Record

OWNER = "owner"


class ChangeRecorder:
    """Writes the audit entries and outbox events of record changes."""

    def __init__(self, model: CompiledModel, json: RecordJson) -> None:
        self.json = json
        self._audited = {
            name: (*entity.field_names, OWNER) for name, entity in model.entities.items()
        }

    def values(self, entity: str, record: Record) -> dict[str, Any]:
        """The audited values of a record (its fields and owner) in JSON form."""
        return self._values(entity, record)

    def _values(self, entity: str, record: Record) -> dict[str, Any]:
        return {name: self.json.value(entity, name, record.get(name))
                for name in self._audited[entity]}

    def created(
        self, conn: sa.Connection, entity: str, records: Sequence[Record], actor: str | None,
        *, publish: bool = True,
    ) -> None:
        """Audit (and, with `publish`, an event for) each created record; an import's silent
        mode writes the audit rows alone, so no trigger or webhook hears of them."""
        entries: list[AuditEntry] = []
        events: list[OutboxEvent] = []
        for record in records:
            at = record["created_at"]
            values = self._values(entity, record)
            if not publish:
                entries.append(audit.whole_record_entry(entity, record["id"], values, actor,
                                                        at))
                continue
            event = outbox.record_event(outbox.RECORD_CREATED, entity,
                                        self.json.record(entity, record),
                                        actor=actor, occurred_at=at)
            entries.append(audit.whole_record_entry(
                entity, record["id"], values, actor, at, event.id))
            events.append(event)
        self._write(conn, entries, events)

    def updated(
        self, conn: sa.Connection, entity: str, changes: Sequence[tuple[Record, Record]],
        actor: str | None, *, publish: bool = True,
    ) -> None:
        entries: list[AuditEntry] = []
        events: list[OutboxEvent] = []
        for before, after in changes:
            if before["version"] == after["version"]:
                continue  # nothing was written
            old, new = self._values(entity, before), self._values(entity, after)
            changed = [name for name in self._audited[entity] if old[name] != new[name]]
            at = after["updated_at"]
            event = outbox.record_event(outbox.RECORD_UPDATED, entity,
                                        self.json.record(entity, after), actor=actor,
                                        occurred_at=at, changed=changed,
                                        previous={name: old[name] for name in changed})
            entries.extend(self._rows(entity, after["id"], "updated", actor, at, event.id,
                                      [(name, old[name], new[name]) for name in changed]))
            events.append(event)
        self._write(conn, entries, events if publish else [])

    def transitioned(
        self, conn: sa.Connection, entity: str, before: Record, after: Record,
        actor: str | None, transition: Mapping[str, Any],
    ) -> None:
        """A pipeline transition (`transition`: pipeline, name, from, to): audit rows with
        action `transitioned` for the state field and the values set with it, and one
        `record.transitioned` event. Nothing when nothing was written."""
        if before["version"] == after["version"]:
            return
        old, new = self._values(entity, before), self._values(entity, after)
        changed = [name for name in self._audited[entity] if old[name] != new[name]]
        at = after["updated_at"]
        event = outbox.record_event(outbox.RECORD_TRANSITIONED, entity,
                                    self.json.record(entity, after), actor=actor,
                                    occurred_at=at, changed=changed,
                                    previous={name: old[name] for name in changed},
                                    transition=transition)
        entries = self._rows(entity, after["id"], "transitioned", actor, at, event.id,
                             [(name, old[name], new[name]) for name in changed])
        self._write(conn, entries, [event])

    def deleted(
        self, conn: sa.Connection, entity: str, deletion: Deletion, actor: str | None,
        at: datetime,
    ) -> None:
        """The deleted record, the records deleted by cascade, the records emptied."""
        entries: list[AuditEntry] = []
        events: list[OutboxEvent] = []
        for name, record in ((entity, deletion.record), *deletion.cascaded):
            event = outbox.record_event(outbox.RECORD_DELETED, name,
                                        self.json.record(name, record), actor=actor,
                                        occurred_at=at)
            values = self._values(name, record)
            entries.extend(self._rows(name, record["id"], "deleted", actor, at, event.id,
                                      [(field, old, None) for field, old in values.items()
                                       if old is not None]))
            events.append(event)
        self._write(conn, entries, events)
        for name, before, after in deletion.emptied:
            self.updated(conn, name, [(before, after)], actor)

    def _rows(
        self, entity: str, record_id: str, action: str, actor: str | None, at: datetime,
        event_id: str, changes: list[tuple[str | None, Any, Any]],
    ) -> list[AuditEntry]:
        if not changes:  # a record without any value: one row for the whole record
            changes = [(None, None, None)]
        return [AuditEntry(entity, record_id, action, field, old, new, actor, at, event_id)
                for field, old, new in changes]

    def _write(
        self, conn: sa.Connection, entries: list[AuditEntry], events: list[OutboxEvent]
    ) -> None:
        audit.write_entries(conn, entries)
        outbox.append(conn, with_chain(events))  # automation runs stamp their chain
