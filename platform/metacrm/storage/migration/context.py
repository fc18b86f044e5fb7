"""What every operation applier needs: the connection, Alembic's operations, both models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from alembic.operations import Operations

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef
from metacrm.storage.migration.operations import MAX_IDENTIFIER, archive_name
from metacrm.storage.system_tables import archive

__all__ = ["MAX_IDENTIFIER", "ApplyContext", "archive_name"]

@dataclass(frozen=True)
class ApplyContext:
    connection: sa.Connection
    operations: Operations
    old_model: CompiledModel | None
    new_model: CompiledModel
    registry: FieldTypeRegistry
    version: int
    now: datetime
    restorable_origin: str | None = None
    """Set when a pack uninstall archives (e.g. `pack vat`): archived fields are recorded
    as restorable, so installing the pack again puts their data back."""

    @property
    def is_sqlite(self) -> bool:
        return self.connection.dialect.name == "sqlite"

    def new_entity(self, name: str) -> EntityDef:
        entity = self.new_model.entity(name)
        if entity is None:
            raise LookupError(f"entity {name!r} is not in the new model")
        return entity

    def new_field(self, entity: str, field: str) -> FieldDef:
        return _field(self.new_entity(entity), field, "new")

    def old_field(self, entity: str, field: str) -> FieldDef:
        old = self.old_model.entity(entity) if self.old_model is not None else None
        if old is None:
            raise LookupError(f"entity {entity!r} is not in the old model")
        return _field(old, field, "old")

    def record_archive(
        self, *, kind: str, entity: str, field: str | None, table: str, archived_as: str,
        reason: str,
    ) -> None:
        """Note in `metacrm_archive` where a destructive change put the data."""
        self.connection.execute(
            archive.insert().values(
                version=self.version,
                kind=kind,
                entity=entity,
                field=field,
                table_name=table,
                archived_as=archived_as,
                reason=reason,
                created_at=self.now,
            )
        )


def _field(entity: EntityDef, name: str, which: str) -> FieldDef:
    fdef = entity.field(name)
    if fdef is None:
        raise LookupError(f"field {entity.name}.{name} is not in the {which} model")
    return fdef
