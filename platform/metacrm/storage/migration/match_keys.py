"""Applying match-key operations: add a key column, fill it for existing rows, index it.

The fill reads the rows in id order, a batch at a time (constant memory whatever the
table's size), computes each key in Python with the same normalisers the record codec
writes with, and updates the batch with one `executemany`. It runs inside the plan's
transaction, so a failure leaves neither the column nor half of the keys behind.
"""

from __future__ import annotations

import sqlalchemy as sa

from metacrm.fieldtypes.match_keys import match_key
from metacrm.metadata.model import EntityDef, MatchKeyDef
from metacrm.storage.duplicate_search import trigram_schema
from metacrm.storage.migration.context import ApplyContext
from metacrm.storage.migration.operations import AddMatchKey, DropMatchKey
from metacrm.storage.tables import (
    index_name,
    match_key_column,
    match_key_indexes,
)

FILL_BATCH = 5_000
"""Rows read and updated per round trip of the fill."""


def ensure_trigram_extension(connection: sa.Connection) -> str | None:
    """`CREATE EXTENSION IF NOT EXISTS pg_trgm` on PostgreSQL; the schema it is in (None
    elsewhere). Without the right to create it, fuzzy rules match exactly, as on SQLite."""
    if connection.dialect.name != "postgresql":
        return None
    if trigram_schema(connection) is None:
        try:
            with connection.begin_nested():
                connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError:
            return None
    return trigram_schema(connection)


def create_match_key_indexes(ctx: ApplyContext, entity: EntityDef,
                             keys: tuple[MatchKeyDef, ...]) -> None:
    """Create the indexes of `keys` on the entity's existing table."""
    schema = (ensure_trigram_extension(ctx.connection)
              if any(key.trigram for key in keys) else None)
    table = sa.Table(entity.table, sa.MetaData(),
                     *(match_key_column(key) for key in keys))
    subset = EntityDef(name=entity.name, label=entity.label, plural_label=entity.plural_label,
                       table=entity.table, fields=(), match_keys=keys)
    for index in match_key_indexes(subset, dict(table.c), trigram_schema=schema):
        index.create(ctx.connection)


def add_match_key(ctx: ApplyContext, op: AddMatchKey) -> None:
    entity = ctx.new_entity(op.entity)
    key = next(k for k in entity.match_keys if k.column == op.column)
    ctx.operations.add_column(op.table, match_key_column(key))
    fill_match_key(ctx.connection, ctx, entity, key)
    create_match_key_indexes(ctx, entity, (key,))


def fill_match_key(connection: sa.Connection, ctx: ApplyContext, entity: EntityDef,
                   key: MatchKeyDef) -> None:
    """Compute `key` for every existing row of the entity's table."""
    fdef = entity.field(key.field)
    if fdef is None:
        raise LookupError(f"field {entity.name}.{key.field} is not in the new model")
    source = ctx.registry.get(fdef.type).columns(fdef)[0].name
    region = fdef.option("default_region")
    region = region if isinstance(region, str) else None
    table = sa.table(entity.table, sa.column("id"), sa.column(source), sa.column(key.column))
    update = (sa.update(table).where(table.c.id == sa.bindparam("row_id"))
              .values({key.column: sa.bindparam("key_value")}))
    last = ""
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c[source]).where(table.c.id > last)
            .order_by(table.c.id).limit(FILL_BATCH)
        ).all()
        if not rows:
            return
        changes = [
            {"row_id": row_id, "key_value": match_key(value, key.normalisers, region=region)}
            for row_id, value in rows
            if value is not None
        ]
        if changes:
            connection.execute(update, changes)
        last = rows[-1][0]


def drop_match_key(ctx: ApplyContext, op: DropMatchKey) -> None:
    if ctx.is_sqlite:
        # SQLite refuses to drop an indexed column; PostgreSQL drops its indexes with it.
        ctx.operations.drop_index(
            index_name(_entity(ctx, op), (op.column,), False), table_name=op.table)
    ctx.operations.drop_column(op.table, op.column)


def _entity(ctx: ApplyContext, op: DropMatchKey) -> EntityDef:
    old = ctx.old_model.entity(op.entity) if ctx.old_model is not None else None
    return old if old is not None else ctx.new_entity(op.entity)
