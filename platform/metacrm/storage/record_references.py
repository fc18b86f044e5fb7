"""References between records: checked before a write, honoured when a record is deleted.

Writes: every reference value must name an existing record of the target entity. The check
runs before the write (one `IN` query per reference field and batch), so the caller gets a
`ValidationFailed` pointing at the field instead of a foreign key violation that, on
PostgreSQL, would also abort its transaction.

Deletes: the repository applies `on_delete` itself rather than leaving it to the foreign
keys, so that (1) a `restrict` refusal names the entity that still refers to the record,
(2) `set_null` bumps the version of the records it changes (optimistic locking stays
truthful), and (3) behaviour does not depend on whether a column got its foreign key (SQLite
columns added at runtime may lack one). The whole cascade is planned and checked before
anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.regarding import RecordLink, allowed_entities, entity_column
from metacrm.kernel.errors import Conflict, ErrorDetail
from metacrm.metadata.model import CompiledModel
from metacrm.storage.record_codec import EntityCodec

CHUNK = 500
"""Ids per `IN (...)` list: far below SQLite's and PostgreSQL's bind parameter limits."""


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


@dataclass(frozen=True, slots=True)
class InboundReference:
    """A reference field of `entity` pointing at another entity, and its delete rule."""

    entity: str
    field: str
    on_delete: str  # restrict | set_null | cascade
    also_emptied: tuple[str, ...] = ()
    """Other columns `set_null` empties with the field (a regarding link's entity)."""


def inbound_references(model: CompiledModel) -> dict[str, tuple[InboundReference, ...]]:
    """For each entity, the reference fields (of any entity) that point at it."""
    inbound: dict[str, list[InboundReference]] = {}
    for entity in model.entities.values():
        for fdef in entity.fields:
            option = fdef.option("on_delete", "set_null")
            rule = option if isinstance(option, str) else "set_null"
            if fdef.type == "regarding":
                # a link to one of several entities: its id column is filtered like a
                # reference's (record ids are unique across entities)
                for linked in allowed_entities(fdef):
                    inbound.setdefault(linked, []).append(InboundReference(
                        entity.name, fdef.name, rule, (entity_column(fdef),)))
                continue
            target = fdef.target_entity
            if fdef.type != "reference" or target is None:
                continue
            inbound.setdefault(target, []).append(InboundReference(entity.name, fdef.name, rule))
    return {name: tuple(refs) for name, refs in inbound.items()}


def missing_references(
    conn: sa.Connection,
    codec: EntityCodec,
    tables: Mapping[str, sa.Table],
    records: Sequence[Mapping[str, Any]],
    pointer: Callable[[int, str], str],
) -> list[ErrorDetail]:
    """One error per reference value in `records` that names no existing record."""
    errors: list[ErrorDetail] = []
    for slot in codec.reference_slots:
        name = slot.name
        wanted = sorted({r[name] for r in records if r.get(name) is not None})
        if not wanted:
            continue
        target = slot.field.target_entity or ""
        table = tables.get(target)
        found: set[str] = set()
        if table is not None:
            for part in chunks(wanted):
                found.update(conn.execute(sa.select(table.c.id).where(table.c.id.in_(part)))
                             .scalars())
        for index, record in enumerate(records):
            value = record.get(name)
            if value is not None and value not in found:
                errors.append(ErrorDetail(
                    f"refers to a {target!r} record that does not exist", pointer(index, name)
                ))
    for slot in codec.regarding_slots:
        errors.extend(_missing_links(conn, tables, records, slot.name, pointer))
    return errors


def _missing_links(
    conn: sa.Connection, tables: Mapping[str, sa.Table], records: Sequence[Mapping[str, Any]],
    name: str, pointer: Callable[[int, str], str],
) -> list[ErrorDetail]:
    """Regarding links have no foreign key: look each linked record up in its table."""
    wanted: dict[str, set[str]] = {}
    for record in records:
        link = record.get(name)
        if isinstance(link, RecordLink):
            wanted.setdefault(link.entity, set()).add(link.id)
    found: set[tuple[str, str]] = set()
    for entity, ids in wanted.items():
        table = tables.get(entity)
        if table is None:
            continue
        for part in chunks(sorted(ids)):
            found.update((entity, i) for i in conn.execute(
                sa.select(table.c.id).where(table.c.id.in_(part))).scalars())
    return [
        ErrorDetail(f"refers to a {link.entity!r} record that does not exist",
                    pointer(index, name))
        for index, record in enumerate(records)
        if isinstance(link := record.get(name), RecordLink)
        and (link.entity, link.id) not in found
    ]


class DeletePlanner:
    """Plans and performs the deletion of records together with their `on_delete` effects."""

    def __init__(
        self,
        inbound: Mapping[str, tuple[InboundReference, ...]],
        tables: Mapping[str, sa.Table],
    ) -> None:
        self.inbound = inbound
        self.tables = tables

    def _referrers(
        self, conn: sa.Connection, ref: InboundReference, ids: Sequence[str]
    ) -> list[str]:
        table = self.tables[ref.entity]
        found: list[str] = []
        for part in chunks(ids):
            found.extend(conn.execute(
                sa.select(table.c.id).where(table.c[ref.field].in_(part))
            ).scalars())
        return found

    def _blocked(
        self, conn: sa.Connection, ref: InboundReference, ids: Sequence[str],
        leaving: set[str],
    ) -> bool:
        """True when a record that stays refers to one of `ids` through `ref`."""
        if leaving:
            return any(i not in leaving for i in self._referrers(conn, ref, ids))
        table = self.tables[ref.entity]
        return any(
            conn.execute(
                sa.select(table.c.id).where(table.c[ref.field].in_(part)).limit(1)
            ).first() is not None
            for part in chunks(ids)
        )

    def plan(self, conn: sa.Connection, entity: str, ids: Iterable[str]) -> dict[str, list[str]]:
        """Every record the deletion removes (cascades included), children listed last.

        Raises `Conflict` naming the referring entity when a `restrict` reference from a
        record that stays would be left dangling.
        """
        doomed: dict[str, list[str]] = {entity: list(ids)}
        known: dict[str, set[str]] = {entity: set(doomed[entity])}
        queue: list[tuple[str, list[str]]] = [(entity, doomed[entity])]
        while queue:
            current, current_ids = queue.pop(0)
            for ref in self.inbound.get(current, ()):
                if ref.on_delete != "cascade":
                    continue
                seen = known.setdefault(ref.entity, set())
                fresh = [i for i in self._referrers(conn, ref, current_ids) if i not in seen]
                if fresh:
                    seen.update(fresh)
                    doomed.setdefault(ref.entity, []).extend(fresh)
                    queue.append((ref.entity, fresh))
        for target, target_ids in doomed.items():
            for ref in self.inbound.get(target, ()):
                if ref.on_delete == "restrict" and self._blocked(
                    conn, ref, target_ids, known.get(ref.entity, set())
                ):
                    raise Conflict(
                        f"cannot delete: {ref.entity!r} records still refer to it",
                        [ErrorDetail(
                            f"{ref.entity!r} records refer to the {target!r} record through "
                            f"{ref.entity}.{ref.field} (on_delete: restrict)",
                            "",
                            ref.entity,
                        )],
                    )
        return doomed

    def execute(
        self,
        conn: sa.Connection,
        doomed: Mapping[str, Sequence[str]],
        *,
        now: datetime,
        actor: str | None,
        skip: tuple[str, str] | None = None,
    ) -> None:
        """Empty `set_null` references, then delete the planned records, children first.

        `skip` is the (entity, id) the caller deletes itself (with its version check).
        """
        for target, target_ids in doomed.items():
            for ref in self.inbound.get(target, ()):
                if ref.on_delete != "set_null":
                    continue
                table = self.tables[ref.entity]
                column = table.c[ref.field]
                for part in chunks(target_ids):
                    conn.execute(
                        sa.update(table)
                        .where(column.in_(part))
                        .values({ref.field: None, "version": table.c.version + 1,
                                 "updated_at": now, "updated_by": actor,
                                 **dict.fromkeys(ref.also_emptied)})
                    )
        for target in reversed(list(doomed)):
            table = self.tables[target]
            target_ids = [i for i in doomed[target] if skip is None or (target, i) != skip]
            for part in chunks(target_ids):
                conn.execute(sa.delete(table).where(table.c.id.in_(part)))
