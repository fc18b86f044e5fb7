"""Applying search-index changes: a new table's index, a rebuilt one, one dropped with
its table, and SQLite tables a migration rebuilt (`storage.search_index`)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef
from metacrm.storage.migration.archive import archive_table
from metacrm.storage.migration.context import ApplyContext
from metacrm.storage.migration.operations import ArchiveTable, RebuildSearchIndex
from metacrm.storage.search_index import search_columns, search_index_for


def create_search_index(ctx: ApplyContext, entity: EntityDef) -> None:
    """Index a new table's search fields (nothing when it has none)."""
    columns = search_columns(entity, ctx.registry)
    if columns:
        search_index_for(ctx.connection).create(ctx.connection, entity.table, columns)


def rebuild_search_index(ctx: ApplyContext, op: RebuildSearchIndex) -> None:
    index = search_index_for(ctx.connection)
    index.drop(ctx.connection, op.table)
    if op.columns:
        index.create(ctx.connection, op.table, op.columns)


def archive_searched_table(ctx: ApplyContext, op: ArchiveTable) -> None:
    """Drop the table's search index, then archive it (the index names stay free for a
    table of that name created later)."""
    search_index_for(ctx.connection).drop(ctx.connection, op.table)
    archive_table(ctx, op)


def release_search_documents(ctx: ApplyContext, table: str, columns: Iterable[str]) -> None:
    """Drop the table's search index before `columns` are retyped when one of them feeds a
    PostgreSQL document column (PostgreSQL cannot retype a column a generated column
    reads); `restore_lost_search_indexes` builds it again at the end of the plan."""
    if ctx.is_sqlite:
        return
    from metacrm.storage.search_postgres import PostgresSearchIndex, document_column

    index = PostgresSearchIndex()
    documents = index.documents(ctx.connection, table)
    if any(document_column(column) in documents for column in columns):
        index.drop(ctx.connection, table)


def restore_lost_search_indexes(ctx: ApplyContext) -> None:
    """Rebuild the index of every table that has search fields but lost its index: on
    SQLite a migration that rebuilds a table drops its triggers (and may renumber rows);
    on PostgreSQL a retyped search column takes its document column with it
    (`release_search_documents`). A table indexed by an earlier version (expression
    indexes) is left as it is: it still searches, and converting it rewrites the table,
    which only `metacrm search reindex` does (docs/operations.md). A PostgreSQL table
    indexed before word lists were kept gets its list (`PostgresSearchIndex.add_word_list`:
    a read of the table, no rewrite)."""
    from metacrm.storage.search_postgres import PostgresSearchIndex

    index = search_index_for(ctx.connection)
    inspector = sa.inspect(ctx.connection)
    for entity in ctx.new_model.entities.values():
        columns = search_columns(entity, ctx.registry)
        if not columns or not inspector.has_table(entity.table):
            continue
        if index.exists(ctx.connection, entity.table):
            if isinstance(index, PostgresSearchIndex):
                index.add_word_list(ctx.connection, entity.table, columns)
            continue
        if isinstance(index, PostgresSearchIndex) and index.earlier_version(
                ctx.connection, entity.table):
            continue
        index.drop(ctx.connection, entity.table)
        index.create(ctx.connection, entity.table, columns)


def reindex(connection: sa.Connection, entities: Iterable[EntityDef],
            registry: FieldTypeRegistry) -> int:
    """Drop and build again the search index of `entities` (the `metacrm search reindex`
    command); the number of tables indexed."""
    index = search_index_for(connection)
    done = 0
    for entity in entities:
        index.drop(connection, entity.table)
        columns = search_columns(entity, registry)
        if columns:
            index.create(connection, entity.table, columns)
            done += 1
    return done
