"""The migration planner: the difference of two compiled models as ordered operations.

The plan is computed from the models alone (no database access), so `metacrm metadata plan`
shows exactly what `apply` will do. Operations come in the order they can be applied:

1. indexes that go away or change (before their columns are renamed or retyped);
2. archives of removed fields and entities (destructive);
3. new tables, referenced tables first; foreign keys closing a reference cycle between new
   tables come right after all new tables exist;
4. new columns;
5. widened and replaced columns;
6. new and changed indexes (after the data they cover is in place), search indexes;
7. metadata-only changes (picklist values).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.fieldtypes.base import StorageChange
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef
from metacrm.storage.migration.operations import (
    OPERATION_TYPES,
    AddChoices,
    AddColumn,
    AddForeignKey,
    AddMatchKey,
    ArchiveColumn,
    ArchiveTable,
    CreateIndex,
    CreateTable,
    DropIndex,
    DropMatchKey,
    Operation,
    RebuildSearchIndex,
    RemoveChoices,
    ReplaceColumn,
    RestoreColumn,
    WidenColumn,
    field_signature,
)
from metacrm.storage.search_index import search_columns
from metacrm.storage.tables import entity_indexes

CHOICE_TYPES = frozenset({"picklist", "multi_picklist"})
IndexSpec = tuple[tuple[str, ...], bool]


@dataclass(frozen=True)
class MigrationPlan:
    """An ordered tuple of operations turning one model's schema into another's."""

    operations: tuple[Operation, ...] = ()

    @property
    def destructive(self) -> bool:
        return any(op.destructive for op in self.operations)

    @property
    def destructive_operations(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.destructive)

    @property
    def is_empty(self) -> bool:
        return not self.operations

    def describe(self, version: int | None = None) -> str:
        """The plan as numbered lines; destructive operations are marked. `version`, when
        known, names the archive columns and tables."""
        if self.is_empty:
            return "No schema changes."
        count = len(self.operations)
        header = f"{count} operation{'s' if count != 1 else ''}"
        destructive = len(self.destructive_operations)
        if destructive:
            header += f", {destructive} destructive"
        lines = [header + ":"]
        width = len(str(count))
        for number, op in enumerate(self.operations, start=1):
            mark = "[destructive] " if op.destructive else ""
            lines.append(f"{number:>{width}}. {mark}{op.describe(version)}")
        return "\n".join(lines)

    def to_json(self, version: int | None = None) -> dict[str, Any]:
        return {
            "destructive": self.destructive,
            "operations": [op.to_json(version) for op in self.operations],
        }


@dataclass(frozen=True)
class RestorableField:
    """Columns a pack uninstall archived, which come back if the same field does."""

    signature: str
    columns: Mapping[str, str]
    """Original column name -> its archived name."""


Restorable = Mapping[tuple[str, str], RestorableField]
"""(entity, field) -> the newest restorable archive of that field."""


def plan_migration(
    old: CompiledModel | None, new: CompiledModel, registry: FieldTypeRegistry,
    restorable: Restorable | None = None,
) -> MigrationPlan:
    """The operations that turn the schema of `old` (None: empty database) into `new`'s.

    A field `restorable` names (archived by a pack uninstall) that comes back with the same
    type and options is restored from its archived columns instead of added empty."""
    old_entities = old.entities if old is not None else {}
    operations: list[Operation] = []
    for name in sorted(old_entities):
        if name not in new.entities:
            entity = old_entities[name]
            operations.append(
                ArchiveTable(entity=name, table=entity.table, source=entity.source.file)
            )
    operations.extend(_create_tables(new, set(new.entities) - set(old_entities), registry))
    for name in sorted(new.entities):
        if name in old_entities:
            operations.extend(_entity_changes(old_entities[name], new.entities[name], registry,
                                              restorable or {}))
    order = {op_type: position for position, op_type in enumerate(OPERATION_TYPES)}
    # A stable sort keeps entity and field order within each kind of operation.
    operations.sort(key=lambda op: order[type(op)])
    return MigrationPlan(tuple(operations))


# --- new entities ------------------------------------------------------------------------


def _creation_order(model: CompiledModel, created: set[str]) -> list[str]:
    """New entities with referenced ones first; a cycle is broken at its smallest name."""
    needs = {
        name: {
            target
            for fdef in model.entities[name].fields
            if (target := fdef.target_entity) in created and target != name
        }
        for name in created
    }
    ordered: list[str] = []
    remaining = set(created)
    while remaining:
        ready = sorted(n for n in remaining if not needs[n] & remaining) or [min(remaining)]
        for name in ready:
            ordered.append(name)
            remaining.discard(name)
    return ordered


def _create_tables(
    model: CompiledModel, created: set[str], registry: FieldTypeRegistry
) -> Iterator[Operation]:
    ordered = _creation_order(model, created)
    position = {name: index for index, name in enumerate(ordered)}
    deferred_keys: list[AddForeignKey] = []
    for name in ordered:
        entity = model.entities[name]
        deferred: list[str] = []
        for fdef in entity.fields:
            target = fdef.target_entity
            if fdef.type != "reference" or target is None or target not in created:
                continue
            if position[target] > position[name]:
                deferred.append(fdef.name)
                spec = registry.get(fdef.type).columns(fdef)[0]
                deferred_keys.append(
                    AddForeignKey(
                        entity=name,
                        table=entity.table,
                        source=entity.source.file,
                        field=fdef.name,
                        column=spec.name,
                        target_table=model.entities[target].table,
                        on_delete=spec.ondelete or "NO ACTION",
                    )
                )
        references = sorted(
            {model.entities[t].table for f in entity.fields
             if (t := f.target_entity) is not None and t in model.entities}
        )
        yield CreateTable(
            entity=name,
            table=entity.table,
            source=entity.source.file,
            fields=entity.field_names,
            indexes=tuple(index for index, _, _ in entity_indexes(entity, registry)),
            references=tuple(references),
            deferred_fields=tuple(deferred),
        )
    yield from deferred_keys


# --- changed entities --------------------------------------------------------------------


def _columns(fdef: FieldDef, registry: FieldTypeRegistry) -> tuple[str, ...]:
    return tuple(spec.name for spec in registry.get(fdef.type).columns(fdef))


def _entity_changes(
    old: EntityDef, new: EntityDef, registry: FieldTypeRegistry, restorable: Restorable
) -> Iterator[Operation]:
    common = {"entity": new.name, "table": new.table, "source": new.source.file}
    retyped_columns: set[str] = set()
    for fdef in old.fields:
        if not new.has_field(fdef.name):
            columns = _columns(fdef, registry)
            yield ArchiveColumn(**common, field=fdef.name, columns=columns)
    for fdef in new.fields:
        before = old.field(fdef.name)
        if before is None:
            spec = registry.get(fdef.type).columns(fdef)[0]
            archived = restorable.get((new.name, fdef.name))
            columns = _columns(fdef, registry)
            if archived is not None and archived.signature == field_signature(fdef) and \
                    spec.foreign_key is None and set(archived.columns) == set(columns):
                yield RestoreColumn(**common, field=fdef.name, columns=columns,
                                    archived=tuple(archived.columns[c] for c in columns))
                continue
            yield AddColumn(
                **common,
                field=fdef.name,
                type=fdef.type,
                columns=_columns(fdef, registry),
                references=spec.foreign_key.split(".")[0] if spec.foreign_key else None,
            )
            continue
        change = (
            registry.get(fdef.type).storage_change(before, fdef)
            if before.type == fdef.type
            else StorageChange.REPLACE
        )
        if change is StorageChange.WIDEN:
            yield WidenColumn(
                **common,
                field=fdef.name,
                columns=_columns(fdef, registry),
                before=field_signature(before),
                after=field_signature(fdef),
            )
        elif change is StorageChange.REPLACE:
            old_columns = _columns(before, registry)
            new_columns = _columns(fdef, registry)
            retyped_columns.update(old_columns, new_columns)
            yield ReplaceColumn(
                **common,
                field=fdef.name,
                old_columns=old_columns,
                new_columns=new_columns,
                before=field_signature(before),
                after=field_signature(fdef),
            )
        if fdef.type in CHOICE_TYPES and before.type == fdef.type:
            yield from _choice_changes(before, fdef, common)
    yield from _index_changes(old, new, registry, retyped_columns, common)
    yield from _match_key_changes(old, new, common)
    yield from _search_changes(old, new, registry, common)


def _search_changes(
    old: EntityDef, new: EntityDef, registry: FieldTypeRegistry, common: dict[str, str]
) -> Iterator[Operation]:
    """The search index is rebuilt when the search fields, or the definition of one of
    them, change (a replaced column takes its index into the archive with it)."""

    def signature(entity: EntityDef) -> tuple[tuple[str, str], ...]:
        return tuple((name, field_signature(fdef)) for name in entity.search_fields
                     if (fdef := entity.field(name)) is not None)

    before, after = search_columns(old, registry), search_columns(new, registry)
    if (before or after) and (before != after or signature(old) != signature(new)):
        fields = tuple(name for name in new.search_fields if new.has_field(name))
        yield RebuildSearchIndex(**common, fields=fields, columns=after)


def _match_key_changes(
    old: EntityDef, new: EntityDef, common: dict[str, str]
) -> Iterator[Operation]:
    """Keys no rule compares are dropped, new ones added and filled; a key whose field
    changed type or whose fuzziness changed is rebuilt (dropped, then added)."""
    before = {key.column: key for key in old.match_keys}
    after = {key.column: key for key in new.match_keys}
    replaced = {
        column for column in before.keys() & after.keys()
        if before[column] != after[column] or _retyped(old, new, after[column].field)
    }
    for column in sorted(before):
        if column not in after or column in replaced:
            yield DropMatchKey(**common, column=column)
    for column in sorted(after):
        if column not in before or column in replaced:
            key = after[column]
            yield AddMatchKey(**common, field=key.field, column=column,
                              normalisers=key.normalisers, trigram=key.trigram)


def _retyped(old: EntityDef, new: EntityDef, field: str) -> bool:
    before, after = old.field(field), new.field(field)
    return before is None or after is None or before.type != after.type


def _choice_changes(
    old: FieldDef, new: FieldDef, common: dict[str, str]
) -> Iterator[Operation]:
    added = tuple(v for v in new.choice_values if v not in old.choice_values)
    removed = tuple(v for v in old.choice_values if v not in new.choice_values)
    if added:
        yield AddChoices(**common, field=new.name, values=added)
    if removed:
        yield RemoveChoices(**common, field=new.name, values=removed)


def _index_changes(
    old: EntityDef,
    new: EntityDef,
    registry: FieldTypeRegistry,
    retyped_columns: set[str],
    common: dict[str, str],
) -> Iterator[Operation]:
    """Indexes to drop and create; an index over a replaced column is rebuilt on the new one."""
    before: dict[str, IndexSpec] = {
        name: (columns, unique) for name, columns, unique in entity_indexes(old, registry)
    }
    after: dict[str, IndexSpec] = {
        name: (columns, unique) for name, columns, unique in entity_indexes(new, registry)
    }

    def rebuilt(name: str) -> bool:
        return before[name] != after[name] or bool(set(before[name][0]) & retyped_columns)

    for name, (columns, _) in before.items():
        if name not in after or rebuilt(name):
            yield DropIndex(**common, name=name, columns=columns)
    for name, (columns, unique) in after.items():
        if name not in before or rebuilt(name):
            yield CreateIndex(**common, name=name, columns=columns, unique=unique)
