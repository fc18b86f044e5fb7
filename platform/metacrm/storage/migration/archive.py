"""Destructive operations that keep the data: archive a column or a table, replace a column.

An archived column or table is renamed (`arch_v<version>_<name>`), loses its foreign keys
and indexes (an archive must neither cascade deletes nor block them, nor enforce uniqueness,
nor hold an index name a new field may need) and is recorded in `metacrm_archive`. It is no
longer part of the compiled model, but every later rebuild copies it along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.base import FieldType
from metacrm.metadata.model import FieldDef
from metacrm.storage.migration.context import ApplyContext, archive_name
from metacrm.storage.migration.operations import (
    ArchiveColumn,
    ArchiveTable,
    ReplaceColumn,
    RestoreColumn,
    field_signature,
)
from metacrm.storage.migration.plan import Restorable, RestorableField
from metacrm.storage.migration.rebuild import drop_foreign_keys
from metacrm.storage.system_tables import archive, restorable_fields
from metacrm.storage.tables import field_columns

COPY_BATCH = 1000


def archive_column(ctx: ApplyContext, op: ArchiveColumn) -> None:
    reason = f"field removed ({ctx.restorable_origin})" if ctx.restorable_origin else \
        "field removed"
    renamed = _archive_columns(ctx, op.entity, op.table, op.field, op.columns, reason)
    if ctx.restorable_origin is not None:
        ctx.connection.execute(restorable_fields.insert().values(
            entity=op.entity, field=op.field,
            signature=field_signature(ctx.old_field(op.entity, op.field)),
            columns=renamed, origin=ctx.restorable_origin, version=ctx.version,
            created_at=ctx.now,
        ))


def restore_column(ctx: ApplyContext, op: RestoreColumn) -> None:
    """Rename the archived columns back; they are no longer archives."""
    for column, archived in zip(op.columns, op.archived, strict=True):
        ctx.operations.alter_column(op.table, archived, new_column_name=column)
    ctx.connection.execute(archive.delete().where(
        archive.c.table_name == op.table, archive.c.archived_as.in_(op.archived)))
    ctx.connection.execute(restorable_fields.delete().where(
        restorable_fields.c.entity == op.entity, restorable_fields.c.field == op.field))


def restorable(connection: sa.Connection) -> Restorable:
    """The newest restorable archive of each (entity, field) whose columns still exist."""
    found: dict[tuple[str, str], RestorableField] = {}
    rows = connection.execute(sa.select(restorable_fields).order_by(restorable_fields.c.id))
    for row in rows:
        found[(row.entity, row.field)] = RestorableField(row.signature, dict(row.columns))
    return found


def archive_table(ctx: ApplyContext, op: ArchiveTable) -> None:
    archived = archive_name(ctx.version, op.table)
    operations = ctx.operations
    for index in sa.inspect(ctx.connection).get_indexes(op.table):
        if index["name"] is not None:
            operations.drop_index(index["name"], table_name=op.table)
    operations.rename_table(op.table, archived)
    if not ctx.is_sqlite:
        # The primary key's index keeps its name; free it for a future entity of this name.
        primary_key = sa.inspect(ctx.connection).get_pk_constraint(archived)["name"]
        if primary_key:
            quote = ctx.connection.dialect.identifier_preparer.quote
            operations.execute(
                f"ALTER TABLE {quote(archived)} RENAME CONSTRAINT {quote(primary_key)} "
                f"TO {quote(archive_name(ctx.version, primary_key))}"
            )
    drop_foreign_keys(operations, archived)
    ctx.record_archive(
        kind="table", entity=op.entity, field=None, table=op.table, archived_as=archived,
        reason="entity removed",
    )


def replace_column(ctx: ApplyContext, op: ReplaceColumn) -> None:
    """Archive the old columns, add the new ones, copy every value that converts."""
    old_field = ctx.old_field(op.entity, op.field)
    new_field = ctx.new_field(op.entity, op.field)
    archived = _archive_columns(
        ctx, op.entity, op.table, op.field, op.old_columns, f"changed: {op.before} -> {op.after}"
    )
    entity = ctx.new_entity(op.entity)
    for column in field_columns(entity, new_field, ctx.registry):
        ctx.operations.add_column(op.table, column, inline_references=True)
    _copy_values(ctx, op.table, old_field, new_field, archived)


def _archive_columns(
    ctx: ApplyContext, entity: str, table: str, field: str, columns: Sequence[str], reason: str
) -> dict[str, str]:
    """Rename `columns` to their archive names, drop their foreign keys; old -> new name."""
    drop_foreign_keys(ctx.operations, table, columns)
    renamed: dict[str, str] = {}
    for column in columns:
        archived = archive_name(ctx.version, column)
        ctx.operations.alter_column(table, column, new_column_name=archived)
        ctx.record_archive(
            kind="column", entity=entity, field=field, table=table, archived_as=archived,
            reason=reason,
        )
        renamed[column] = archived
    return renamed


def _copy_values(
    ctx: ApplyContext,
    table: str,
    old_field: FieldDef,
    new_field: FieldDef,
    archived: Mapping[str, str],
) -> None:
    """Copy, batch by batch in id order, the archived values that fit the new definition."""
    old_type = ctx.registry.get(old_field.type)
    new_type = ctx.registry.get(new_field.type)
    old_specs = old_type.columns(old_field)
    new_specs = new_type.columns(new_field)
    source = sa.table(
        table,
        sa.column("id", sa.String()),
        *(sa.column(archived[spec.name], spec.type) for spec in old_specs),
    )
    target = sa.table(
        table,
        sa.column("id", sa.String()),
        *(sa.column(spec.name, spec.type) for spec in new_specs),
    )
    reads = [source.c[archived[spec.name]].label(spec.name) for spec in old_specs]
    update = (
        target.update()
        .where(target.c.id == sa.bindparam("row_id"))
        .values({spec.name: sa.bindparam(f"new_{spec.name}") for spec in new_specs})
    )
    last_id = ""
    while True:
        rows = ctx.connection.execute(
            sa.select(source.c.id, *reads)
            .where(source.c.id > last_id)
            .order_by(source.c.id)
            .limit(COPY_BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        converted = {
            row.id: stored
            for row in rows
            if (stored := convert_value(old_type, old_field, new_type, new_field, row._mapping))
        }
        converted = _existing_references(ctx, new_specs[0].foreign_key, converted)
        if converted:
            ctx.connection.execute(
                update,
                [
                    {"row_id": row_id, **{f"new_{name}": value for name, value in values.items()}}
                    for row_id, values in converted.items()
                ],
            )


def convert_value(
    old_type: FieldType,
    old_field: FieldDef,
    new_type: FieldType,
    new_field: FieldDef,
    row: Mapping[Any, Any],
) -> dict[str, Any] | None:
    """The storage values of `row`'s old value under the new definition, or None when the
    value is empty or does not convert (too long, not a number, an unknown choice...)."""
    value = old_type.from_storage(old_field, row)
    if value is None:
        return None
    # The value itself, its JSON form, the part criteria compare (a money's amount), and
    # numbers as text: whichever the new type accepts first.
    candidates = [value]
    as_json = old_type.to_json(old_field, value)
    compared = old_type.criteria_value(old_field, value)
    candidates.extend(c for c in (as_json, compared) if c is not None and c != value)
    if isinstance(as_json, int | float | Decimal) and not isinstance(as_json, bool):
        candidates.append(str(as_json))
    for candidate in candidates:
        try:
            normalized = new_type.normalize(new_field, candidate)
        except (ValueError, TypeError, ArithmeticError):
            continue
        if normalized is None:
            return None
        return new_type.to_storage(new_field, normalized)
    return None


def _existing_references(
    ctx: ApplyContext, foreign_key: str | None, converted: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Keep only values that point at an existing record when the new column references."""
    if foreign_key is None or not converted:
        return converted
    target_table, _, target_column = foreign_key.partition(".")
    target = sa.table(target_table, sa.column(target_column, sa.String()))
    wanted = {next(iter(values.values())) for values in converted.values()}
    found = set(
        ctx.connection.execute(
            sa.select(target.c[target_column]).where(target.c[target_column].in_(wanted))
        ).scalars()
    )
    return {
        row_id: values
        for row_id, values in converted.items()
        if next(iter(values.values())) in found
    }
