"""The contract every field type fulfils, built-in or from an extension pack.

A field type turns one `FieldDef` into columns (usually one; money has two), converts values
between three forms, and tells the other layers what they need:

* JSON form — what the API sends and receives (money and decimals as strings, datetimes as
  RFC 3339 UTC);
* Python form — the normalised value services, criteria predicates and triggers work with
  (`str`, `int`, `Decimal`, `bool`, `date`, aware UTC `datetime`, `Money`, tuples for
  multi-picklists, plain JSON for `json`);
* storage form — one value per column, as SQLAlchemy binds it.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import fields as ma_fields
from sqlalchemy import ColumnElement, Table
from sqlalchemy.types import TypeEngine

from metacrm.metadata.model import FieldDef


class FieldValueError(ValueError):
    """A value that does not fit its field; the message says why, for the end user."""


class StorageChange(enum.Enum):
    """How a field's storage must change when its definition changes."""

    NONE = "none"
    """Same columns, same types: metadata-only change (labels, a new picklist value...)."""
    WIDEN = "widen"
    """Same columns, a wider type (longer text, more digits): additive, applied online."""
    REPLACE = "replace"
    """Narrower or different type: destructive; the old column is archived, values copied."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One physical column a field needs: its name, SQLAlchemy type and foreign key.

    `foreign_key` is "table.column" for reference fields; `ondelete` is the SQL action
    (RESTRICT, SET NULL, CASCADE).
    """

    name: str
    type: TypeEngine[Any]
    foreign_key: str | None = None
    ondelete: str | None = None


COMMON_OPERATORS = frozenset({"eq", "ne", "in", "not_in", "is_null"})
ORDERED_OPERATORS = COMMON_OPERATORS | {"gt", "gte", "lt", "lte", "between"}
TEXT_OPERATORS = COMMON_OPERATORS | {"contains", "starts_with"}


class FieldType(ABC):
    """Base class of field types. Subclasses set `name`, `operators`, `option_names`."""

    name: ClassVar[str]
    operators: ClassVar[frozenset[str]] = COMMON_OPERATORS
    option_names: ClassVar[frozenset[str]] = frozenset()
    """Type-specific options this type accepts in a field definition."""
    sortable: ClassVar[bool] = True
    settable: ClassVar[bool] = True
    """False for values the engine assigns (auto-number): writes by clients are refused."""
    form_widget: ClassVar[str | None] = None
    """The form input of a type the screens do not know by name (extension packs' types):
    one of the built-in widgets (`text`, `integer`, `date`...). None: the type's name."""

    # --- schema of the definition ------------------------------------------------------
    def option_errors(self, field: FieldDef) -> list[tuple[str, str]]:
        """Problems with the type-specific options: (option name, reason) pairs."""
        return []

    # --- storage -----------------------------------------------------------------------
    @abstractmethod
    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        """The columns this field occupies; the first one is the field's main column."""

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        """How storage changes from `old` to `new` (both of this type)."""
        old_types = [repr(c.type) for c in self.columns(old)]
        new_types = [repr(c.type) for c in self.columns(new)]
        return StorageChange.NONE if old_types == new_types else StorageChange.REPLACE

    def to_storage(self, field: FieldDef, value: Any) -> dict[str, Any]:
        """Python value -> {column name: value}. Default: one column holding the value."""
        return {field.name: value}

    def from_storage(self, field: FieldDef, row: Mapping[str, Any]) -> Any:
        """Row (mapping by column name) -> Python value."""
        return row[field.name]

    def sort_column(self, field: FieldDef, table: Table) -> ColumnElement[Any]:
        """The SQL expression to sort and compare on (money: its amount)."""
        return table.c[field.name]

    # --- values ------------------------------------------------------------------------
    @abstractmethod
    def normalize(self, field: FieldDef, value: Any) -> Any:
        """JSON or Python value -> normalised Python value; raise FieldValueError.

        Never called with None: absence is handled by the caller (required, default).
        """

    def to_json(self, field: FieldDef, value: Any) -> Any:
        """Python value -> JSON value for the API."""
        return value

    def default(self, field: FieldDef) -> Any:
        """The value a new record gets when none is given (already normalised), or None."""
        return None if field.default is None else self.normalize(field, field.default)

    def criteria_value(self, field: FieldDef, value: Any) -> Any:
        """The part of a Python value that criteria compare (money: its amount)."""
        return value

    def coerce_operand(self, field: FieldDef, value: Any) -> Any:
        """A criteria literal -> the Python value compared with `criteria_value`."""
        return self.criteria_value(field, self.normalize(field, value))

    def display_text(self, field: FieldDef, value: Any) -> str | None:
        """A JSON value as text on screens, for types the screens do not know by name
        (extension packs' types); None: the screens' own formatting."""
        return None

    # --- API description ---------------------------------------------------------------
    @abstractmethod
    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of the field's JSON value, without nullability."""

    @abstractmethod
    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        """A marshmallow field that loads the JSON value into the Python value."""
