"""What deleting a record does to other records, read before and after, for the audit trail.

A deletion applies the `on_delete` rule of every reference to the record: `cascade`
deletes the referring records (recursively), `set_null` empties the referring field. Those
records change too, so each gets its audit rows and its outbox event like any other change
(`record.deleted`, `record.updated` with the emptied field). `on_delete` is a data-model
rule: it applies whatever the deleting user's scope on the referring entities (as the
database's foreign keys would), and the audit names that user as the actor.

Nothing is read when no reference points at the entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from metacrm.storage.record_codec import Record
from metacrm.storage.record_references import DeletePlanner, chunks, inbound_references
from metacrm.storage.repository import RecordRepository


@dataclass(frozen=True)
class Deletion:
    """A deleted record (final values) and what its deletion did to other records."""

    record: Record
    cascaded: tuple[tuple[str, Record], ...] = ()
    """(entity, final values) of records deleted by `cascade` references."""
    emptied: tuple[tuple[str, Record, Record], ...] = ()
    """(entity, before, after) of records whose `set_null` reference was emptied."""


class DeleteEffects:
    """Reads the records a deletion will touch, around the repository's delete."""

    def __init__(self, repository: RecordRepository) -> None:
        self.repository = repository
        self.inbound = inbound_references(repository.model)
        self.planner = DeletePlanner(self.inbound, repository.tables.tables)

    def delete(
        self, conn: sa.Connection, entity: str, current: Record, *,
        expected_version: int | None, actor: str | None,
    ) -> Deletion:
        record_id = current["id"]
        if not self.inbound.get(entity):
            self.repository.delete(conn, entity, record_id, expected_version=expected_version,
                                   actor=actor)
            return Deletion(current)
        doomed = self.planner.plan(conn, entity, [record_id])
        gone = {(name, i) for name, ids in doomed.items() for i in ids}
        cascaded = [
            (name, record)
            for name, ids in doomed.items()
            for record in self._records(conn, name, "id", [i for i in ids if i != record_id])
        ]
        emptied_before: list[tuple[str, Record]] = []
        for target, ids in doomed.items():
            for ref in self.inbound.get(target, ()):
                if ref.on_delete == "set_null":
                    emptied_before.extend(
                        (ref.entity, r) for r in self._records(conn, ref.entity, ref.field, ids)
                        if (ref.entity, r["id"]) not in gone)
        self.repository.delete(conn, entity, record_id, expected_version=expected_version,
                               actor=actor)
        emptied: list[tuple[str, Record, Record]] = []
        for name in dict.fromkeys(n for n, _r in emptied_before):
            befores = {r["id"]: r for n, r in emptied_before if n == name}
            afters = {r["id"]: r for r in self._records(conn, name, "id", list(befores))}
            emptied.extend((name, befores[i], afters[i]) for i in befores if i in afters)
        return Deletion(current, tuple(cascaded), tuple(emptied))

    def _records(
        self, conn: sa.Connection, entity: str, column: str, values: Sequence[str]
    ) -> list[Record]:
        """Every record of `entity` whose `column` is one of `values` (whole records)."""
        if not values:
            return []
        table = self.repository.table(entity)
        found: list[Record] = []
        for part in chunks(list(values)):
            cursor = None
            while True:
                page = self.repository.query(conn, entity, where=table.c[column].in_(part),
                                             limit=500, cursor=cursor)
                found.extend(page.records)
                cursor = page.next_cursor
                if cursor is None:
                    break
        return found
