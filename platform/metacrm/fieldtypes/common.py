"""Helpers shared by the built-in field types: option checks, string checks, marshmallow glue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError
from marshmallow import fields as ma_fields

from metacrm.fieldtypes.base import FieldValueError
from metacrm.metadata.model import FieldDef

if TYPE_CHECKING:
    from metacrm.fieldtypes.base import FieldType

OptionErrors = list[tuple[str, str]]


def is_int(value: Any) -> bool:
    """True for real integers (JSON numbers without a fraction), never for booleans."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_option(
    field: FieldDef,
    key: str,
    default: int | None,
    low: int,
    high: int,
    errors: OptionErrors,
) -> int | None:
    """Read an integer option, recording an error (and returning `default`) when it is bad."""
    value = field.option(key)
    if value is None:
        return default
    if not is_int(value) or not low <= value <= high:
        errors.append((key, f"must be an integer from {low} to {high}"))
        return default
    return int(value)


def int_option_value(field: FieldDef, key: str, default: int, low: int, high: int) -> int:
    """An integer option as the type uses it at runtime (bad values fall back to default)."""
    value = int_option(field, key, default, low, high, [])
    return default if value is None else value


def default_errors(field_type: FieldType, field: FieldDef) -> OptionErrors:
    """The field's declared default must be a valid value of its type."""
    if field.default is None:
        return []
    try:
        field_type.default(field)
    except FieldValueError as exc:
        return [("default", f"default value {exc}")]
    return []


def require_str(value: Any) -> str:
    """A string without characters no database can store."""
    if not isinstance(value, str):
        raise FieldValueError("must be a string")
    if "\x00" in value:
        raise FieldValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldValueError("contains characters that are not valid Unicode") from None
    return value


def check_length(value: str, max_length: int | None) -> str:
    if max_length is not None and len(value) > max_length:
        raise FieldValueError(f"must be at most {max_length} characters")
    return value


class FieldTypeField(ma_fields.Field[Any]):
    """A marshmallow field that loads and dumps exactly as its field type does.

    Delegating keeps one source of truth: the API, imports and services all validate a value
    through `FieldType.normalize`, so their error messages and results cannot drift apart.
    `None` (no value) is allowed; whether a value is required is the records service's call.
    """

    def __init__(
        self, field_type: FieldType, field: FieldDef, **kwargs: Any
    ) -> None:
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault("metadata", {"field_type": field_type.name})
        super().__init__(**kwargs)
        self.field_type = field_type
        self.field_def = field

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return self.field_type.to_json(self.field_def, value)

    def _deserialize(
        self,
        value: Any,
        attr: str | None,
        data: Mapping[str, Any] | None,
        **kwargs: Any,
    ) -> Any:
        try:
            return self.field_type.normalize(self.field_def, value)
        except FieldValueError as exc:
            raise ValidationError(str(exc)) from exc
