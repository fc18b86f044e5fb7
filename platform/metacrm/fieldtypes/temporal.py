"""Date and datetime field types.

Datetimes are points in time: stored in UTC (`UTCDateTime`), returned as aware UTC values,
written to JSON as RFC 3339 with `Z`. Input must say its offset ("2024-05-01T09:30:00+03:00"
or "...Z"): a time without a zone is refused rather than guessed, because guessing the server's
zone silently shifts data entered from elsewhere. A field's `default` may be "$now" (datetime)
or "$today" (date), evaluated when a record is created.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import fields as ma_fields
from sqlalchemy import Date

from metacrm.fieldtypes.base import ORDERED_OPERATORS, ColumnSpec, FieldType, FieldValueError
from metacrm.fieldtypes.common import FieldTypeField, OptionErrors, default_errors
from metacrm.fieldtypes.sqltypes import UTCDateTime
from metacrm.metadata.model import FieldDef


class DateType(FieldType):
    """A calendar day without time or zone, ISO 8601 "YYYY-MM-DD"."""

    name = "date"
    operators = ORDERED_OPERATORS

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, Date())]

    def normalize(self, field: FieldDef, value: Any) -> date:
        if isinstance(value, datetime):
            raise FieldValueError("must be a date without a time, e.g. 2024-05-31")
        if isinstance(value, date):
            return value
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise FieldValueError("must be a date in the form YYYY-MM-DD, e.g. 2024-05-31")

    def default(self, field: FieldDef) -> date | None:
        if field.default == "$today":
            return datetime.now(UTC).date()
        value: date | None = super().default(field)
        return value

    def to_json(self, field: FieldDef, value: Any) -> str:
        return str(value.isoformat())

    def option_errors(self, field: FieldDef) -> OptionErrors:
        return default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "format": "date"}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)


def parse_datetime(value: Any) -> datetime:
    """An aware datetime or an RFC 3339 string with offset -> aware UTC datetime."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) < 16 or text[10] not in "Tt ":
            raise FieldValueError(
                "must be a date and time such as 2024-05-31T14:30:00Z"
            )
        text = text[:10] + "T" + text[11:]
        if text.endswith("z"):
            text = text[:-1] + "Z"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise FieldValueError(
                "must be a date and time such as 2024-05-31T14:30:00Z"
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise FieldValueError("must be a date and time such as 2024-05-31T14:30:00Z")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise FieldValueError(
            "must include a time zone offset, e.g. 2024-05-31T14:30:00Z or +03:00"
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise FieldValueError("is outside the supported range of dates") from None


def datetime_to_json(value: datetime) -> str:
    if value.tzinfo is not UTC:  # values read from the database are UTC already
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


class DateTimeType(FieldType):
    """A point in time with microseconds; see the module docstring for zones."""

    name = "datetime"
    operators = ORDERED_OPERATORS

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, UTCDateTime())]

    def normalize(self, field: FieldDef, value: Any) -> datetime:
        return parse_datetime(value)

    def default(self, field: FieldDef) -> datetime | None:
        if field.default == "$now":
            return datetime.now(UTC)
        value: datetime | None = super().default(field)
        return value

    def to_json(self, field: FieldDef, value: Any) -> str:
        return datetime_to_json(value)

    def option_errors(self, field: FieldDef) -> OptionErrors:
        return default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)
