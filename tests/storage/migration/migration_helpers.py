"""Test helpers: models from small JSON literals, a migrator that moves a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.fieldtypes.sqltypes import UTCDateTime
from metacrm.kernel.ids import new_id
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.model import CompiledModel
from metacrm.storage.migration import MigrationPlan, apply_plan, begin_migration, plan_migration
from metacrm.storage.system_tables import create_system_tables


def label(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def entity(name: str, *fields: dict[str, Any], indexes: tuple[dict[str, Any], ...] = ()
           ) -> dict[str, Any]:
    """An entity document (JSON literal)."""
    return {
        "kind": "entity",
        "version": 1,
        "name": name,
        "label": label(name.title()),
        "plural_label": label(name.title() + "s"),
        "fields": [{"label": label(f["name"].title()), **f} for f in fields],
        **({"indexes": list(indexes)} if indexes else {}),
    }


def compile_entities(registry: FieldTypeRegistry, *documents: dict[str, Any]) -> CompiledModel:
    """Compile entity documents (JSON literals) the way the metadata service does."""
    return compile_model(
        [Document.from_body(doc, source=f"crm/{doc['name']}.json", pack="crm")
         for doc in documents],
        registry,
    )


class Migrator:
    """Moves one database from model to model the way the metadata service does."""

    def __init__(self, engine: sa.Engine, registry: FieldTypeRegistry) -> None:
        self.engine = engine
        self.registry = registry
        self.model: CompiledModel | None = None
        self.version = 0
        with engine.begin() as connection:
            create_system_tables(connection)

    def model_of(self, *documents: dict[str, Any]) -> CompiledModel:
        return compile_entities(self.registry, *documents)

    def plan(self, *documents: dict[str, Any]) -> MigrationPlan:
        return plan_migration(self.model, self.model_of(*documents), self.registry)

    def apply(self, *documents: dict[str, Any], confirm: bool = False) -> MigrationPlan:
        new = self.model_of(*documents)
        plan = plan_migration(self.model, new, self.registry)
        with begin_migration(self.engine) as connection:
            apply_plan(connection, plan, old_model=self.model, new_model=new,
                       registry=self.registry, version=self.version + 1,
                       confirm_destructive=confirm)
        self.model, self.version = new, self.version + 1
        return plan

    # --- looking at the database ------------------------------------------------------
    def columns(self, table: str) -> dict[str, Any]:
        return {c["name"]: c for c in sa.inspect(self.engine).get_columns(table)}

    def indexes(self, table: str) -> dict[str, Any]:
        return {i["name"]: i for i in sa.inspect(self.engine).get_indexes(table) if i["name"]}

    def schema(self) -> dict[str, Any]:
        """Every table's columns (name, type), indexes and foreign keys, for comparisons."""
        inspector = sa.inspect(self.engine)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                sorted((i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                       for i in inspector.get_indexes(table)),
                sorted((tuple(k["constrained_columns"]), k["referred_table"],
                        str(k.get("options")))
                       for k in inspector.get_foreign_keys(table)),
            )
            for table in sorted(inspector.get_table_names())
        }

    def tables(self) -> set[str]:
        return set(sa.inspect(self.engine).get_table_names())

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql), params)]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(sql), params)

    def insert_record(self, entity_name: str, **values: Any) -> str:
        """Insert a record of the current model from JSON values, through the field types."""
        assert self.model is not None
        definition = self.model.entities[entity_name]
        row_id = new_id()
        now = datetime.now(UTC)
        stored: dict[str, Any] = {"id": row_id, "version": 1, "created_at": now, "updated_at": now}
        columns = [sa.column("id"), sa.column("version"), sa.column("created_at", UTCDateTime()),
                   sa.column("updated_at", UTCDateTime())]
        for name, value in values.items():
            fdef = definition.field(name)
            assert fdef is not None
            field_type = self.registry.get(fdef.type)
            stored.update(field_type.to_storage(fdef, field_type.normalize(fdef, value)))
            columns.extend(sa.column(spec.name, spec.type) for spec in field_type.columns(fdef))
        with self.engine.begin() as connection:
            connection.execute(sa.table(definition.table, *columns).insert().values(stored))
        return row_id

    def read(self, table: str, **columns: TypeEngine[Any]) -> list[tuple[Any, ...]]:
        """Rows of `table` (ordered by id) with `columns` read through their types."""
        source = sa.table(table, sa.column("id"), *(sa.column(n, t) for n, t in columns.items()))
        query = sa.select(*(source.c[name] for name in columns)).order_by(source.c.id)
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]

    def insert(self, table: str, count: int = 1, **values: Any) -> list[str]:
        """Insert `count` rows with the system columns filled in; returns their ids."""
        ids = [new_id() for _ in range(count)]
        names = ["id", "version", "created_at", "updated_at", *values]
        target = sa.table(table, *(sa.column(name) for name in names))
        now = sa.func.current_timestamp()
        with self.engine.begin() as connection:
            for row_id in ids:
                connection.execute(
                    target.insert().values(
                        id=row_id, version=1, created_at=now, updated_at=now, **values
                    )
                )
        return ids
