"""Adapts a pack's `FieldTypeSpec` into a core `FieldType`.

The spec's storage kind names a built-in type that lends its columns, storage conversion,
operators and JSON form; the spec adds its own normaliser, value schema (checked on every
write, and what the API, OpenAPI and forms describe), display text and form widget. So an
extension type is stored, filtered, validated and shown like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from marshmallow import fields as ma_fields
from sqlalchemy import ColumnElement, Table

from metacrm.extension import FieldTypeSpec
from metacrm.fieldtypes.base import ColumnSpec, FieldType, FieldValueError, StorageChange
from metacrm.fieldtypes.common import FieldTypeField
from metacrm.metadata.model import FieldDef

TEXT_POSTED = frozenset({"text", "textarea", "integer", "decimal", "date"})
"""Storage kinds whose own form input posts text the type's normaliser reads."""


class PackFieldType(FieldType):
    """A field type contributed by a pack (one subclass per spec, see `adapt`)."""

    spec: FieldTypeSpec
    base: FieldType
    validator: Draft202012Validator

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return self.base.columns(field)

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        return self.base.storage_change(old, new)

    def to_storage(self, field: FieldDef, value: Any) -> dict[str, Any]:
        return self.base.to_storage(field, value)

    def from_storage(self, field: FieldDef, row: Mapping[str, Any]) -> Any:
        return self.base.from_storage(field, row)

    def sort_column(self, field: FieldDef, table: Table) -> ColumnElement[Any]:
        return self.base.sort_column(field, table)

    def normalize(self, field: FieldDef, value: Any) -> Any:
        """The spec's normaliser, then the storage type's; the result's JSON form must
        fit the spec's value schema (so "4" from a form input is checked as 4)."""
        if self.spec.normalize is not None:
            try:
                value = self.spec.normalize(value)
            except (ValueError, TypeError) as exc:
                raise FieldValueError(str(exc) or "is not a valid value") from None
            if value is None:
                return None
        python = self.base.normalize(field, value)
        if python is None:
            return None
        error = next(iter(self.validator.iter_errors(self.base.to_json(field, python))), None)
        if error is not None:
            raise FieldValueError(error.message)
        return python

    def to_json(self, field: FieldDef, value: Any) -> Any:
        return self.base.to_json(field, value)

    def criteria_value(self, field: FieldDef, value: Any) -> Any:
        return self.base.criteria_value(field, value)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return dict(self.spec.value_schema)

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)

    def option_errors(self, field: FieldDef) -> list[tuple[str, str]]:
        return self.base.option_errors(field)

    def display_text(self, field: FieldDef, value: Any) -> str | None:
        if self.spec.display is None:
            return None
        return str(self.spec.display(value))


def adapt(spec: FieldTypeSpec, base: FieldType) -> PackFieldType:
    """The core type of `spec`, storing its values as the built-in type `base` does."""
    cls = type(f"PackFieldType_{spec.name}", (PackFieldType,), {
        "name": spec.name,
        "operators": base.operators,
        "option_names": base.option_names,
        "sortable": base.sortable,
        "form_widget": spec.widget or (base.name if base.name in TEXT_POSTED else "text"),
    })
    field_type: PackFieldType = cls()
    field_type.spec = spec
    field_type.base = base
    field_type.validator = Draft202012Validator(dict(spec.value_schema))
    return field_type
