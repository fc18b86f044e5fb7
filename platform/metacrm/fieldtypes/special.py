"""Auto-number and JSON field types."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from marshmallow import fields as ma_fields
from sqlalchemy import JSON, String

from metacrm.fieldtypes.base import (
    TEXT_OPERATORS,
    ColumnSpec,
    FieldType,
    FieldValueError,
    StorageChange,
)
from metacrm.fieldtypes.common import (
    FieldTypeField,
    OptionErrors,
    check_length,
    int_option,
    int_option_value,
    is_int,
    require_str,
)
from metacrm.metadata.model import FieldDef

AUTO_NUMBER_LENGTH = 64
PREFIX_MAX_LENGTH = 20


YEAR = "{year}"
PER_FISCAL_YEAR = "fiscal_year"


def fiscal_year(field: FieldDef, now: datetime) -> int | None:
    """The fiscal year `now` falls in, for a field numbered per fiscal year (else None):
    the calendar year its first month (`fiscal_year_start`, default 1) belongs to."""
    if field.option("per") != PER_FISCAL_YEAR:
        return None
    start = int_option_value(field, "fiscal_year_start", 1, 1, 12)
    return now.year if now.month >= start else now.year - 1


def format_auto_number(field: FieldDef, n: int, year: int | None = None) -> str:
    """The value of the `n`-th record: prefix + `n` zero-padded to `digits` ("INV-000042");
    `{year}` in the prefix is the fiscal year ("INV-{year}-" -> "INV-2026-0001").

    The repository draws `n` from the entity's counter (starting at the field's `start`;
    one counter per fiscal year with `"per": "fiscal_year"`) and stores the result;
    numbers longer than `digits` are written in full.
    """
    prefix = field.option("prefix", "")
    prefix = prefix if isinstance(prefix, str) else ""
    if year is not None:
        prefix = prefix.replace(YEAR, str(year))
    digits = int_option_value(field, "digits", 6, 1, 12)
    return f"{prefix}{n:0{digits}d}"


def auto_number_start(field: FieldDef) -> int:
    start = field.option("start", 1)
    return int(start) if is_int(start) and start >= 0 else 1


class AutoNumberType(FieldType):
    """A number the engine assigns on create (`prefix`, `digits`, `start`); clients cannot set it.

    Searched like text (`eq`, `contains`, `starts_with`), so "INV-0004" finds its invoices.
    """

    name = "auto_number"
    operators = TEXT_OPERATORS
    option_names = frozenset({"prefix", "digits", "start", "per", "fiscal_year_start"})
    settable = False

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, String(AUTO_NUMBER_LENGTH))]

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        """Changing the format affects new numbers only; stored numbers stay as they are."""
        return StorageChange.NONE

    def normalize(self, field: FieldDef, value: Any) -> str:
        text = require_str(value).strip()
        if not text:
            raise FieldValueError("must not be empty")
        return check_length(text, AUTO_NUMBER_LENGTH)

    def default(self, field: FieldDef) -> None:
        return None

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        prefix = field.option("prefix")
        if prefix is not None and (
            not isinstance(prefix, str)
            or len(prefix) > PREFIX_MAX_LENGTH
            or any(ch.isspace() and ch != " " for ch in prefix)
        ):
            errors.append(
                ("prefix", f"must be text of at most {PREFIX_MAX_LENGTH} characters")
            )
        int_option(field, "digits", 6, 1, 12, errors)
        int_option(field, "start", 1, 0, 10**12 - 1, errors)
        per = field.option("per")
        if per is not None and per != PER_FISCAL_YEAR:
            errors.append(("per", f"must be '{PER_FISCAL_YEAR}' (numbers restart each year)"))
        int_option(field, "fiscal_year_start", 1, 1, 12, errors)
        if isinstance(prefix, str) and YEAR in prefix and per != PER_FISCAL_YEAR:
            errors.append(("prefix", "'{year}' needs \"per\": \"fiscal_year\""))
        if field.default is not None:
            errors.append(("default", "auto-number fields are numbered by the system"))
        return errors

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "maxLength": AUTO_NUMBER_LENGTH, "readOnly": True}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field, dump_only=True)


def _check_json(value: Any, depth: int = 0) -> None:
    if depth > 64:
        raise FieldValueError("is nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str):
            require_str(value)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldValueError("must not contain NaN or infinite numbers")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FieldValueError("object keys must be strings")
            _check_json(item, depth + 1)
        return
    raise FieldValueError(f"cannot hold a value of type {type(value).__name__}")


class JsonType(FieldType):
    """Free-form JSON data (integration payloads, settings); only `is_null` in criteria."""

    name = "json"
    operators = frozenset({"is_null"})
    sortable = False

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        # none_as_null: Python None must be SQL NULL, not the JSON literal null, so that
        # `is_null` means the same in SQL as in Python.
        return [ColumnSpec(field.name, JSON(none_as_null=True))]

    def normalize(self, field: FieldDef, value: Any) -> Any:
        _check_json(value)
        # a deep copy in canonical JSON form: tuples become lists, nothing shared with caller
        return json.loads(json.dumps(value))

    def option_errors(self, field: FieldDef) -> OptionErrors:
        if field.default is None:
            return []
        try:
            self.normalize(field, field.default)
        except FieldValueError as exc:
            return [("default", f"default value {exc}")]
        return []

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)
