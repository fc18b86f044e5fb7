"""SQLAlchemy Core tables compiled from the metadata model: one table an entity.

Built once per metadata version and shared; the repository, the criteria SQL interpreter and
the migration applier all use the same `RecordTables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.schema import SchemaItem

from metacrm.fieldtypes.base import ColumnSpec
from metacrm.fieldtypes.match_keys import MAX_KEY_LENGTH
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.compiler.entities import INDEXABLE_SYSTEM_COLUMNS
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef, MatchKeyDef

ID_LENGTH = 36
USER_ID_LENGTH = 64


def system_columns() -> list[sa.Column[object]]:
    """The columns every record table has, in table order."""
    from metacrm.fieldtypes.sqltypes import UTCDateTime

    return [
        sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("created_by", sa.String(USER_ID_LENGTH), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("updated_by", sa.String(USER_ID_LENGTH), nullable=True),
        sa.Column("owner", sa.String(USER_ID_LENGTH), nullable=True, index=True),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def field_columns(
    entity: EntityDef, fdef: FieldDef, registry: FieldTypeRegistry, *, foreign_keys: bool = True
) -> list[sa.Column[object]]:
    """The columns of one field, with its foreign key when `foreign_keys` is set."""
    specs = registry.get(fdef.type).columns(fdef)
    return [_column(spec, foreign_keys=foreign_keys) for spec in specs]


def _column(spec: ColumnSpec, *, foreign_keys: bool) -> sa.Column[object]:
    args: list[SchemaItem] = []
    if foreign_keys and spec.foreign_key:
        args.append(sa.ForeignKey(spec.foreign_key, ondelete=spec.ondelete))
    return sa.Column(spec.name, spec.type, *args, nullable=True)


def match_key_column(key: MatchKeyDef) -> sa.Column[object]:
    """The column holding one duplicate-match key (written by the record codec)."""
    return sa.Column(key.column, sa.String(MAX_KEY_LENGTH), nullable=True)


def trigram_index_name(entity: EntityDef, key: MatchKeyDef) -> str:
    return f"tg_{entity.table}_{key.column}"[:63]


def trigram_index(entity: EntityDef, key: MatchKeyDef, column: sa.Column[object],
                  schema: str) -> sa.Index:
    """PostgreSQL's GIN trigram index over a key fuzzy rules compare (`pg_trgm`, installed
    in `schema`); other databases have no such index (fuzzy rules match exactly there)."""
    return sa.Index(trigram_index_name(entity, key), column, postgresql_using="gin",
                    postgresql_ops={key.column: f"{schema}.gin_trgm_ops"})


def match_key_indexes(
    entity: EntityDef, columns: Mapping[str, sa.Column[object]], *,
    trigram_schema: str | None = None,
) -> list[sa.Index]:
    """The indexes of the entity's match keys: a b-tree each (exact matches), plus, when
    pg_trgm is installed (in `trigram_schema`), a trigram index for the keys fuzzy rules
    compare."""
    indexes: list[sa.Index] = []
    for key in entity.match_keys:
        column = columns[key.column]
        indexes.append(sa.Index(index_name(entity, (key.column,), False), column))
        if key.trigram and trigram_schema is not None:
            indexes.append(trigram_index(entity, key, column, trigram_schema))
    return indexes


def index_name(entity: EntityDef, fields: tuple[str, ...], unique: bool) -> str:
    prefix = "ux" if unique else "ix"
    return f"{prefix}_{entity.table}_{'_'.join(fields)}"[:63]


def _index_column(entity: EntityDef, registry: FieldTypeRegistry, name: str,
                  position: int) -> str:
    """The column a declared index covers for `name`: a field's main column, or a system
    column (`created_at`, `updated_at`) after the leading field."""
    fdef = entity.field(name)
    if fdef is None:
        if position and name in INDEXABLE_SYSTEM_COLUMNS:
            return name
        raise ValueError(f"index of {entity.name!r} names unknown field {name!r}")
    return registry.get(fdef.type).columns(fdef)[0].name


def entity_indexes(
    entity: EntityDef, registry: FieldTypeRegistry
) -> list[tuple[str, tuple[str, ...], bool]]:
    """Every index an entity needs: (name, column names, unique).

    Declared indexes (named `idx_<table>_<name>`), plus one per field marked `indexed` or
    `unique` and one per reference field (foreign keys are not indexed automatically, and
    related lists filter on them).
    """
    wanted: dict[str, tuple[str, ...]] = {}
    unique: dict[str, bool] = {}

    def add(name: str, columns: tuple[str, ...], is_unique: bool) -> None:
        wanted[name] = columns
        unique[name] = is_unique

    for fdef in entity.fields:
        main = registry.get(fdef.type).columns(fdef)[0].name
        if fdef.unique:
            add(index_name(entity, (main,), True), (main,), True)
        elif fdef.indexed or fdef.type in ("reference", "regarding"):
            add(index_name(entity, (main,), False), (main,), False)
    for index in entity.indexes:
        columns = tuple(_index_column(entity, registry, name, position)
                        for position, name in enumerate(index.fields))
        # Index names are per schema (PostgreSQL) or per database (SQLite), not per table:
        # a declared name is qualified by the table so two entities may both say "by_name".
        add(f"idx_{entity.table}_{index.name}"[:63], columns, index.unique)
    return [(name, wanted[name], unique[name]) for name in wanted]


def build_record_table(
    entity: EntityDef,
    registry: FieldTypeRegistry,
    metadata: sa.MetaData,
    *,
    foreign_keys: bool = True,
) -> sa.Table:
    """The Core `Table` of one entity: system columns, field columns, indexes."""
    columns: list[SchemaItem] = list(system_columns())
    for fdef in entity.fields:
        columns.extend(field_columns(entity, fdef, registry, foreign_keys=foreign_keys))
    keys = [match_key_column(key) for key in entity.match_keys]
    columns.extend(keys)
    for name, cols, is_unique in entity_indexes(entity, registry):
        columns.append(sa.Index(name, *cols, unique=is_unique))
    columns.extend(match_key_indexes(entity, {c.name: c for c in keys}))
    return sa.Table(entity.table, metadata, *columns)


@dataclass(frozen=True)
class RecordTables:
    """The record tables of one compiled model, by entity name."""

    metadata: sa.MetaData
    tables: Mapping[str, sa.Table]

    def __getitem__(self, entity_name: str) -> sa.Table:
        return self.tables[entity_name]


def build_record_tables(model: CompiledModel, registry: FieldTypeRegistry) -> RecordTables:
    metadata = sa.MetaData()
    tables = {
        name: build_record_table(entity, registry, metadata)
        for name, entity in model.entities.items()
    }
    return RecordTables(metadata, MappingProxyType(tables))
