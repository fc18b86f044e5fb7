"""The operations of a migration plan: one schema (or metadata-only) change each.

Operations are plain frozen values so that a plan can be printed for an admin, stored as JSON
in the metadata version row, and applied later. They name entities, fields, tables, columns
and indexes; the applier reads the field definitions from the old and new compiled models.

`destructive` operations lose nothing (the applier archives the data) but change what users
see, so they are only applied when the admin confirms them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from metacrm.metadata.model import FieldDef

MAX_IDENTIFIER = 63
"""PostgreSQL's identifier limit; names are cut to it on both databases alike."""


def archive_name(version: int, name: str) -> str:
    """The name a destructive change gives the column or table it archives."""
    return f"arch_v{version}_{name}"[:MAX_IDENTIFIER]


def field_signature(fdef: FieldDef) -> str:
    """A field's type and options, as shown in a plan: `text(max_length=80)`."""
    options = ", ".join(f"{key}={fdef.options[key]}" for key in sorted(fdef.options))
    return f"{fdef.type}({options})" if options else fdef.type


def _names(items: tuple[str, ...]) -> str:
    return ", ".join(items)


def _archived(names: tuple[str, ...], version: int | None) -> str:
    if version is None:
        return "arch_v<version>_" + ("<column>" if len(names) > 1 else names[0])
    return _names(tuple(archive_name(version, name) for name in names))


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One step of a plan, on entity `entity` whose table is `table`."""

    kind: ClassVar[str] = "operation"
    destructive: ClassVar[bool] = False
    changes_schema: ClassVar[bool] = True
    """False for metadata-only steps (picklist values): printed, recorded, no DDL."""

    entity: str
    table: str
    source: str = ""
    """The metadata document the change comes from (for error messages)."""

    def describe(self, version: int | None = None) -> str:
        """One readable line saying what applying this operation does; `version` (when
        known) names the archive columns and tables of destructive operations."""
        raise NotImplementedError

    def to_json(self, version: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.kind}
        for item in fields(self):
            value = getattr(self, item.name)
            data[item.name] = list(value) if isinstance(value, tuple) else value
        data["destructive"] = self.destructive
        data["description"] = self.describe(version)
        return data


@dataclass(frozen=True, kw_only=True)
class DropIndex(Operation):
    kind: ClassVar[str] = "drop_index"

    name: str
    columns: tuple[str, ...]

    def describe(self, version: int | None = None) -> str:
        return f"drop index {self.name} on {self.table} ({_names(self.columns)})"


@dataclass(frozen=True, kw_only=True)
class ArchiveColumn(Operation):
    """A removed field: its columns are renamed `arch_v<version>_<column>`, data kept."""

    kind: ClassVar[str] = "archive_column"
    destructive: ClassVar[bool] = True

    field: str
    columns: tuple[str, ...]

    def describe(self, version: int | None = None) -> str:
        return (
            f"remove field {self.entity}.{self.field}: column(s) {_names(self.columns)} of "
            f"{self.table} archived as {_archived(self.columns, version)}, data kept"
        )


@dataclass(frozen=True, kw_only=True)
class ArchiveTable(Operation):
    """A removed entity: its table is renamed `arch_v<version>_<table>`, rows kept."""

    kind: ClassVar[str] = "archive_table"
    destructive: ClassVar[bool] = True

    def describe(self, version: int | None = None) -> str:
        return (
            f"remove entity {self.entity}: table {self.table} archived as "
            f"{_archived((self.table,), version)}, rows kept"
        )


@dataclass(frozen=True, kw_only=True)
class CreateTable(Operation):
    """A new entity's table with system columns, field columns, indexes and foreign keys.

    `deferred_fields` are reference fields whose target table is created later in the same
    plan (reference cycles); their foreign keys come with `AddForeignKey` operations.
    """

    kind: ClassVar[str] = "create_table"

    fields: tuple[str, ...]
    indexes: tuple[str, ...]
    references: tuple[str, ...]
    deferred_fields: tuple[str, ...] = ()

    def describe(self, version: int | None = None) -> str:
        count = len(self.fields)
        text = f"create table {self.table} for new entity {self.entity} "
        text += f"({count} field{'s' if count != 1 else ''}"
        if self.indexes:
            text += f"; indexes {_names(self.indexes)}"
        if self.references:
            text += f"; references {_names(self.references)}"
        return text + ")"


@dataclass(frozen=True, kw_only=True)
class AddForeignKey(Operation):
    """A foreign key between two tables created by the same plan (created after both)."""

    kind: ClassVar[str] = "add_foreign_key"

    field: str
    column: str
    target_table: str
    on_delete: str

    def describe(self, version: int | None = None) -> str:
        return (
            f"add foreign key {self.table}.{self.column} -> {self.target_table}.id "
            f"(on delete {self.on_delete.lower()})"
        )


@dataclass(frozen=True, kw_only=True)
class AddColumn(Operation):
    """A new field: nullable columns, so existing rows are kept and the table not rewritten."""

    kind: ClassVar[str] = "add_column"

    field: str
    type: str
    columns: tuple[str, ...]
    references: str | None = None

    def describe(self, version: int | None = None) -> str:
        text = f"add field {self.entity}.{self.field} ({self.type}): column(s) "
        text += f"{_names(self.columns)} on {self.table}"
        if self.references:
            text += f", references {self.references}"
        return text


@dataclass(frozen=True, kw_only=True)
class RestoreColumn(Operation):
    """A field that comes back after a pack uninstall archived it (same type and options):
    its archived columns are renamed back, so the data is there again."""

    kind: ClassVar[str] = "restore_column"

    field: str
    columns: tuple[str, ...]
    archived: tuple[str, ...]

    def describe(self, version: int | None = None) -> str:
        return (f"restore field {self.entity}.{self.field}: archived column(s) "
                f"{_names(self.archived)} of {self.table} renamed back to "
                f"{_names(self.columns)}, data back in place")


@dataclass(frozen=True, kw_only=True)
class WidenColumn(Operation):
    """A field whose column type grows (longer text, more digits); every value still fits."""

    kind: ClassVar[str] = "widen_column"

    field: str
    columns: tuple[str, ...]
    before: str
    after: str

    def describe(self, version: int | None = None) -> str:
        return (
            f"widen field {self.entity}.{self.field} on {self.table}: "
            f"{self.before} -> {self.after}"
        )


@dataclass(frozen=True, kw_only=True)
class ReplaceColumn(Operation):
    """A narrowed or retyped field: the old column is archived, a new one added, and every
    value that converts to the new definition copied; the others stay in the archive."""

    kind: ClassVar[str] = "replace_column"
    destructive: ClassVar[bool] = True

    field: str
    old_columns: tuple[str, ...]
    new_columns: tuple[str, ...]
    before: str
    after: str

    def describe(self, version: int | None = None) -> str:
        return (
            f"change field {self.entity}.{self.field} on {self.table}: {self.before} -> "
            f"{self.after}; old column(s) archived as {_archived(self.old_columns, version)}, "
            f"values that convert copied"
        )


@dataclass(frozen=True, kw_only=True)
class CreateIndex(Operation):
    kind: ClassVar[str] = "create_index"

    name: str
    columns: tuple[str, ...]
    unique: bool = False

    def describe(self, version: int | None = None) -> str:
        what = "unique index" if self.unique else "index"
        return f"create {what} {self.name} on {self.table} ({_names(self.columns)})"


@dataclass(frozen=True, kw_only=True)
class AddMatchKey(Operation):
    """A duplicate rule's new match key: a nullable column, filled from the field's values
    of the existing rows, and its index (a trigram one too on PostgreSQL when fuzzy)."""

    kind: ClassVar[str] = "add_match_key"

    field: str
    column: str
    normalisers: tuple[str, ...]
    trigram: bool = False

    def describe(self, version: int | None = None) -> str:
        how = "fuzzy" if self.trigram else "exact"
        return (f"add duplicate-match key {self.column} on {self.table} "
                f"({self.field} through {_names(self.normalisers)}, {how}), filled for "
                f"existing rows")


@dataclass(frozen=True, kw_only=True)
class DropMatchKey(Operation):
    """A match key no duplicate rule compares any more: derived data, dropped with its
    indexes (the field's own values are untouched)."""

    kind: ClassVar[str] = "drop_match_key"

    column: str

    def describe(self, version: int | None = None) -> str:
        return f"drop duplicate-match key {self.column} of {self.table} (derived data)"


@dataclass(frozen=True, kw_only=True)
class RebuildSearchIndex(Operation):
    """An entity whose search fields changed (or whose search columns were retyped):
    its search index is dropped and built again over `columns` (none: just dropped),
    existing rows included (`storage.search_index`)."""

    kind: ClassVar[str] = "rebuild_search_index"

    fields: tuple[str, ...]
    columns: tuple[str, ...]

    def describe(self, version: int | None = None) -> str:
        if not self.columns:
            return f"drop the search index of {self.table} (no search fields left)"
        return (f"rebuild the search index of {self.table} over {_names(self.fields)}, "
                f"existing rows included")


@dataclass(frozen=True, kw_only=True)
class AddChoices(Operation):
    """New picklist values: metadata only, the column already holds any value."""

    kind: ClassVar[str] = "add_choices"
    changes_schema: ClassVar[bool] = False

    field: str
    values: tuple[str, ...]

    def describe(self, version: int | None = None) -> str:
        return f"add value(s) {_names(self.values)} to {self.entity}.{self.field} (no DDL)"


@dataclass(frozen=True, kw_only=True)
class RemoveChoices(Operation):
    """Removed picklist values: records keeping them stay as they are but no longer
    validate, so this needs the same confirmation as other destructive changes."""

    kind: ClassVar[str] = "remove_choices"
    destructive: ClassVar[bool] = True
    changes_schema: ClassVar[bool] = False

    field: str
    values: tuple[str, ...]

    def describe(self, version: int | None = None) -> str:
        return (
            f"remove value(s) {_names(self.values)} from {self.entity}.{self.field} "
            f"(no DDL; records holding them keep them)"
        )


OPERATION_TYPES: tuple[type[Operation], ...] = (
    DropIndex,
    DropMatchKey,
    ArchiveColumn,
    ArchiveTable,
    CreateTable,
    AddForeignKey,
    AddColumn,
    RestoreColumn,
    WidenColumn,
    ReplaceColumn,
    CreateIndex,
    AddMatchKey,
    RebuildSearchIndex,
    AddChoices,
    RemoveChoices,
)
"""Every operation type, in the order a plan applies them."""
