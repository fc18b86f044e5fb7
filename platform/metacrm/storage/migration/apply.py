"""The migration applier: runs a plan's operations through Alembic's operations API.

Everything happens on the caller's connection, inside the caller's transaction, so a plan
applies all or nothing (both databases have transactional DDL; see `begin_migration`).
Additive operations are online on PostgreSQL: a nullable column without a default is a
catalog-only change, widening a `varchar` or `numeric` does not rewrite the table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.schema import SchemaItem

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.fieldtypes.special import auto_number_start
from metacrm.kernel.errors import (
    DestructiveChangeRefused,
    ErrorDetail,
    MetacrmError,
    MigrationFailed,
)
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef
from metacrm.storage.migration.archive import (
    archive_column,
    replace_column,
    restore_column,
)
from metacrm.storage.migration.context import MAX_IDENTIFIER, ApplyContext
from metacrm.storage.migration.match_keys import (
    add_match_key,
    create_match_key_indexes,
    drop_match_key,
)
from metacrm.storage.migration.operations import (
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
)
from metacrm.storage.migration.plan import MigrationPlan
from metacrm.storage.migration.rebuild import rebuild_sqlite_table
from metacrm.storage.migration.search import (
    archive_searched_table,
    create_search_index,
    rebuild_search_index,
    release_search_documents,
    restore_lost_search_indexes,
)
from metacrm.storage.system_tables import sequences
from metacrm.storage.tables import (
    entity_indexes,
    field_columns,
    match_key_column,
    system_columns,
)

Applier = Callable[[ApplyContext, Any], None]


def apply_plan(
    connection: sa.Connection,
    plan: MigrationPlan,
    *,
    old_model: CompiledModel | None,
    new_model: CompiledModel,
    registry: FieldTypeRegistry,
    version: int,
    confirm_destructive: bool,
    restorable_origin: str | None = None,
) -> None:
    """Apply `plan` (from `old_model` to `new_model`) as metadata version `version`.

    Raises DestructiveChangeRefused, before changing anything, when the plan holds
    destructive operations and `confirm_destructive` is false. Any other error leaves the
    caller's transaction to be rolled back.
    """
    if plan.destructive and not confirm_destructive:
        raise refusal(plan, version)
    if not connection.in_transaction():
        raise RuntimeError("apply_plan needs a connection inside a transaction")
    ctx = ApplyContext(
        connection=connection,
        operations=Operations(MigrationContext.configure(connection)),
        old_model=old_model,
        new_model=new_model,
        registry=registry,
        version=version,
        now=datetime.now(UTC),
        restorable_origin=restorable_origin,
    )
    for number, operation in enumerate(plan.operations, start=1):
        try:
            APPLIERS[type(operation)](ctx, operation)
        except MetacrmError:
            raise
        except Exception as exc:
            reason = failure_reason(exc)
            raise MigrationFailed(
                f"operation {number} of the migration plan failed: {reason}",
                [
                    ErrorDetail(
                        f"{number}. {operation.describe(version)}: {reason}",
                        source=operation.source,
                    )
                ],
            ) from exc
    if any(op.changes_schema for op in plan.operations):
        restore_lost_search_indexes(ctx)


def failure_reason(exc: BaseException) -> str:
    """The first line of what went wrong (the database's message, not the whole SQL)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        text = str(exc.orig)
    elif isinstance(exc, MetacrmError):
        text = exc.message
    else:
        text = str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def refusal(plan: MigrationPlan, version: int | None = None) -> DestructiveChangeRefused:
    """The error listing the destructive operations of an unconfirmed plan."""
    destructive = plan.destructive_operations
    return DestructiveChangeRefused(
        f"the change holds {len(destructive)} destructive operation"
        f"{'s' if len(destructive) != 1 else ''} and was not confirmed",
        [ErrorDetail(op.describe(version), source=op.source) for op in destructive],
    )


def _drop_index(ctx: ApplyContext, op: DropIndex) -> None:
    ctx.operations.drop_index(op.name, table_name=op.table)


def _create_table(ctx: ApplyContext, op: CreateTable) -> None:
    entity = ctx.new_entity(op.entity)
    # SQLite accepts a foreign key to a table that does not exist yet; PostgreSQL gets the
    # deferred ones from AddForeignKey once every new table exists.
    deferred = () if ctx.is_sqlite else op.deferred_fields
    items: list[SchemaItem] = list(system_columns())
    for fdef in entity.fields:
        items.extend(
            field_columns(entity, fdef, ctx.registry, foreign_keys=fdef.name not in deferred)
        )
    items.extend(match_key_column(key) for key in entity.match_keys)
    items.extend(
        sa.Index(name, *columns, unique=unique)
        for name, columns, unique in entity_indexes(entity, ctx.registry)
    )
    ctx.operations.create_table(entity.table, *items)
    if entity.match_keys:
        create_match_key_indexes(ctx, entity, entity.match_keys)
    create_search_index(ctx, entity)
    for fdef in entity.fields:
        _start_sequence(ctx, entity, fdef)


def _add_foreign_key(ctx: ApplyContext, op: AddForeignKey) -> None:
    if ctx.is_sqlite:
        return  # declared inline by CreateTable
    ctx.operations.create_foreign_key(
        f"{op.table}_{op.column}_fkey"[:MAX_IDENTIFIER],
        op.table,
        op.target_table,
        [op.column],
        ["id"],
        ondelete=None if op.on_delete == "NO ACTION" else op.on_delete,
    )


def _add_column(ctx: ApplyContext, op: AddColumn) -> None:
    entity = ctx.new_entity(op.entity)
    fdef = ctx.new_field(op.entity, op.field)
    for column in field_columns(entity, fdef, ctx.registry):
        # Inline REFERENCES: SQLite cannot add a constraint to an existing table, and on
        # PostgreSQL the key of an all-NULL new column is valid without a table scan.
        ctx.operations.add_column(op.table, column, inline_references=True)
    _start_sequence(ctx, entity, fdef)


def _widen_column(ctx: ApplyContext, op: WidenColumn) -> None:
    before = ctx.old_field(op.entity, op.field)
    after = ctx.new_field(op.entity, op.field)
    old_specs = ctx.registry.get(before.type).columns(before)
    new_specs = ctx.registry.get(after.type).columns(after)
    dialect = ctx.connection.dialect
    # Compare the types as this database spells them: SQLite stores every decimal as a
    # 64-bit integer, so more digits there change nothing and need no table rebuild.
    changed = {
        new.name: (old.type, new.type)
        for old, new in zip(old_specs, new_specs, strict=True)
        if old.type.compile(dialect=dialect) != new.type.compile(dialect=dialect)
    }
    if not changed:
        return
    if ctx.is_sqlite:
        rebuild_sqlite_table(
            ctx.operations, op.table, retype={name: new for name, (_, new) in changed.items()}
        )
        return
    release_search_documents(ctx, op.table, changed)
    for name, (old_type, new_type) in changed.items():
        ctx.operations.alter_column(op.table, name, type_=new_type, existing_type=old_type)


def _create_index(ctx: ApplyContext, op: CreateIndex) -> None:
    ctx.operations.create_index(op.name, op.table, list(op.columns), unique=op.unique)


def _metadata_only(ctx: ApplyContext, op: Operation) -> None:
    """Picklist values live in the metadata; the column already accepts any value."""


def _start_sequence(ctx: ApplyContext, entity: EntityDef, fdef: FieldDef) -> None:
    """Give a new auto-number field its counter, unless an earlier field of that name left
    one (numbers are then not reused)."""
    if fdef.type != "auto_number":
        return
    key = (sequences.c.entity == entity.name) & (sequences.c.field == fdef.name)
    if ctx.connection.execute(sa.select(sequences.c.next_value).where(key)).first() is None:
        ctx.connection.execute(
            sequences.insert().values(
                entity=entity.name, field=fdef.name, next_value=auto_number_start(fdef)
            )
        )


APPLIERS: dict[type[Operation], Applier] = {
    DropIndex: _drop_index,
    DropMatchKey: drop_match_key,
    ArchiveColumn: archive_column,
    ArchiveTable: archive_searched_table,
    CreateTable: _create_table,
    AddForeignKey: _add_foreign_key,
    AddColumn: _add_column,
    RestoreColumn: restore_column,
    WidenColumn: _widen_column,
    ReplaceColumn: replace_column,
    CreateIndex: _create_index,
    AddMatchKey: add_match_key,
    RebuildSearchIndex: rebuild_search_index,
    AddChoices: _metadata_only,
    RemoveChoices: _metadata_only,
}
"""How each operation type is applied (tests replace one to inject a failure)."""
