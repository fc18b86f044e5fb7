"""Boolean, picklist and multi-picklist field types.

A multi-picklist value is a tuple of choice values in the order the choices are declared
(so equal selections are equal values), stored as ";a;b;" text: "has value x" is then a
portable `LIKE '%;x;%'` that needs no JSON operators, which differ between databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields as ma_fields
from sqlalchemy import Boolean, String, Text

from metacrm.fieldtypes.base import (
    COMMON_OPERATORS,
    ColumnSpec,
    FieldType,
    FieldValueError,
    StorageChange,
)
from metacrm.fieldtypes.common import FieldTypeField, OptionErrors, default_errors
from metacrm.metadata.model import FieldDef

CHOICE_MAX_LENGTH = 64
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


class BooleanType(FieldType):
    """Yes or no. Accepts JSON booleans, 0/1 and the words true/false/yes/no (imports)."""

    name = "boolean"
    operators = frozenset({"eq", "ne", "is_null"})

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, Boolean())]

    def normalize(self, field: FieldDef, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise FieldValueError("must be true or false")

    def option_errors(self, field: FieldDef) -> OptionErrors:
        return default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "boolean"}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)


def choice_errors(field: FieldDef) -> OptionErrors:
    """Choices must exist, be short, free of ';' and distinct even ignoring case."""
    if not field.choices:
        return [("choices", "must list at least one choice")]
    errors: OptionErrors = []
    seen: dict[str, str] = {}
    for choice in field.choices:
        value = choice.value
        if not isinstance(value, str) or not value.strip():
            errors.append(("choices", "choice values must be non-empty strings"))
            continue
        if len(value) > CHOICE_MAX_LENGTH or ";" in value or value != value.strip():
            errors.append(
                ("choices", f"choice value {value!r} must be at most {CHOICE_MAX_LENGTH} "
                 "characters, without ';' or surrounding spaces")
            )
        key = value.casefold()
        if key in seen:
            first = seen[key]
            errors.append(("choices", f"choice value {value!r} is listed twice" if first == value
                           else f"choice values {first!r} and {value!r} differ only in case"))
        seen.setdefault(key, value)
    return errors


def choices_hint(field: FieldDef) -> str:
    values = field.choice_values
    shown = ", ".join(values[:20]) + (", ..." if len(values) > 20 else "")
    return f"must be one of: {shown}"


class PicklistType(FieldType):
    """One value out of the field's `choices`."""

    name = "picklist"
    operators = COMMON_OPERATORS

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, String(CHOICE_MAX_LENGTH))]

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        return StorageChange.NONE

    def normalize(self, field: FieldDef, value: Any) -> str:
        if not isinstance(value, str) or value not in field.choice_values:
            raise FieldValueError(choices_hint(field))
        return value

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors = choice_errors(field)
        return errors if errors else default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "enum": list(field.choice_values)}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)


class MultiPicklistType(FieldType):
    """Any number of the field's `choices`; empty selection normalises to None."""

    name = "multi_picklist"
    operators = frozenset({"contains", "is_null"})
    sortable = False

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, Text())]

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        return StorageChange.NONE

    def normalize(self, field: FieldDef, value: Any) -> tuple[str, ...] | None:
        if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
            raise FieldValueError("must be a list of values")
        chosen = set()
        for item in value:
            if not isinstance(item, str) or item not in field.choice_values:
                raise FieldValueError(f"has an unknown value {item!r}; {choices_hint(field)}")
            chosen.add(item)
        ordered = tuple(v for v in field.choice_values if v in chosen)
        return ordered or None

    def coerce_operand(self, field: FieldDef, value: Any) -> str:
        """`contains` compares with one choice value."""
        if not isinstance(value, str) or value not in field.choice_values:
            raise FieldValueError(choices_hint(field))
        return value

    def to_storage(self, field: FieldDef, value: Any) -> dict[str, Any]:
        if not value:
            return {field.name: None}
        return {field.name: ";" + ";".join(value) + ";"}

    def from_storage(self, field: FieldDef, row: Mapping[str, Any]) -> tuple[str, ...] | None:
        stored = row[field.name]
        if not stored:
            return None
        present = set(stored.strip(";").split(";"))
        ordered = tuple(v for v in field.choice_values if v in present)
        # values removed from the choices since they were stored are kept, after the rest
        extra = tuple(sorted(present - set(ordered) - {""}))
        return ordered + extra or None

    def to_json(self, field: FieldDef, value: Any) -> list[str]:
        return list(value)

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors = choice_errors(field)
        return errors if errors else default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {"type": "string", "enum": list(field.choice_values)},
            "uniqueItems": True,
        }

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)
