"""Turns the database's constraint violations into errors a user can act on.

The repository checks what it can before writing (references, restrict rules), but unique
values can only be enforced by the database (two transactions may insert the same value at
once). An `IntegrityError` is therefore translated here into a `Conflict` naming the field,
never passed on as is. On PostgreSQL the caller's transaction is aborted by then and must be
rolled back, as with any failed unit of work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import Conflict, ErrorDetail, MetacrmError, ValidationFailed
from metacrm.storage.record_codec import EntityCodec
from metacrm.storage.tables import entity_indexes

SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
PG_KEY = re.compile(r"Key \(([^)]*)\)")
PG_REFERENCED_FROM = re.compile(r'referenced from table "([^"]+)"')


class IntegrityTranslator:
    """Knows one entity's unique indexes and foreign keys by name and by columns."""

    def __init__(self, codec: EntityCodec, registry: FieldTypeRegistry) -> None:
        self.codec = codec
        self.table_name = codec.table.name
        self.unique_by_name: dict[str, tuple[str, ...]] = {}
        self.unique_by_columns: dict[frozenset[str], tuple[str, ...]] = {}
        for name, columns, unique in entity_indexes(codec.entity, registry):
            if not unique:
                continue
            fields = tuple(codec.field_of_column.get(c, c) for c in columns)
            self.unique_by_name[name] = fields
            self.unique_by_columns[frozenset(columns)] = fields
        self.foreign_keys: dict[str, str] = {}
        for column in codec.table.c:
            for fk in column.foreign_keys:
                if fk.constraint is not None and isinstance(fk.constraint.name, str):
                    self.foreign_keys[fk.constraint.name] = column.name
                self.foreign_keys.setdefault(f"{self.table_name}_{column.name}_fkey",
                                             column.name)

    def translate(self, exc: sa.exc.IntegrityError, prefix: str = "") -> MetacrmError:
        """The error to raise instead of `exc` (the caller chains it with `from`)."""
        orig: Any = exc.orig
        sqlstate = getattr(orig, "sqlstate", None)
        sqlite_name = getattr(orig, "sqlite_errorname", "")
        if sqlstate == "23505" or sqlite_name in (
            "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"
        ):
            return self._unique(orig, prefix)
        if sqlstate == "23503" or sqlite_name == "SQLITE_CONSTRAINT_FOREIGNKEY":
            return self._foreign_key(orig, prefix)
        return Conflict(
            "the change conflicts with the data stored",
            [ErrorDetail("a database constraint refused the change", prefix)],
        )

    def _unique(self, orig: Any, prefix: str) -> Conflict:
        fields: tuple[str, ...] = ()
        diag = getattr(orig, "diag", None)
        constraint = getattr(diag, "constraint_name", None)
        if constraint:
            fields = self.unique_by_name.get(constraint, ())
        else:
            match = SQLITE_UNIQUE.search(str(orig))
            if match:
                columns = frozenset(
                    part.strip().rsplit(".", 1)[-1] for part in match.group(1).split(",")
                )
                fields = self.unique_by_columns.get(columns, ())
                if not fields and columns == {"id"}:
                    fields = ("id",)
        if not fields:
            return Conflict(
                "a value must be unique",
                [ErrorDetail("another record already has this value", prefix)],
            )
        names = ", ".join(fields)
        return Conflict(
            f"another {self.codec.entity.name!r} record already has this {names}",
            [
                ErrorDetail(
                    "must be unique: another record already has this value"
                    if len(fields) == 1
                    else f"the combination of {names} must be unique",
                    f"{prefix}/{field}",
                )
                for field in fields
            ],
        )

    def _foreign_key(self, orig: Any, prefix: str) -> MetacrmError:
        diag = getattr(orig, "diag", None)
        detail = str(getattr(diag, "message_detail", "") or "")
        referenced_from = PG_REFERENCED_FROM.search(detail)
        if referenced_from:
            table = referenced_from.group(1)
            entity = table.removeprefix("crm_")
            return Conflict(
                f"cannot delete: {entity!r} records still refer to it",
                [ErrorDetail(f"{entity!r} records still refer to this record", "", entity)],
            )
        column = self.foreign_keys.get(str(getattr(diag, "constraint_name", "") or ""))
        if column is None:
            key = PG_KEY.search(detail)
            column = key.group(1) if key else None
        if column is not None:
            field = self.codec.field_of_column.get(column, column)
            return ValidationFailed(
                "a referenced record does not exist",
                [ErrorDetail("refers to a record that does not exist (any more)",
                             f"{prefix}/{field}")],
            )
        return Conflict(
            "the change breaks a reference between records",
            [ErrorDetail("a referenced record does not exist, or a record still refers to "
                         "this one", prefix)],
        )


def translators(
    codecs: Mapping[str, EntityCodec], registry: FieldTypeRegistry
) -> dict[str, IntegrityTranslator]:
    return {name: IntegrityTranslator(codec, registry) for name, codec in codecs.items()}
