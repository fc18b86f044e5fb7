"""Text-like field types: text, textarea, email, phone, url.

All of them store a string and support the text operators (case-insensitive `contains` and
`starts_with`, exact `eq`). Blank input (empty or only whitespace) normalises to None, so
"required" and `is_null` treat it as no value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from marshmallow import fields as ma_fields
from sqlalchemy import String, Text

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
    default_errors,
    int_option,
    int_option_value,
    require_str,
)
from metacrm.metadata.model import FieldDef

TEXT_MAX_LENGTH = 10000
TEXT_DEFAULT_LENGTH = 255
EMAIL_MAX_LENGTH = 254
PHONE_MAX_LENGTH = 16  # "+" and at most 15 digits (E.164)
URL_MAX_LENGTH = 2048


class _StringType(FieldType):
    """A string in one column; subclasses refine `max_length` and `clean`."""

    operators = TEXT_OPERATORS

    def max_length(self, field: FieldDef) -> int | None:
        return TEXT_DEFAULT_LENGTH

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        length = self.max_length(field)
        return [ColumnSpec(field.name, Text() if length is None else String(length))]

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        before, after = self.max_length(old), self.max_length(new)
        if before == after:
            return StorageChange.NONE
        if after is None or (before is not None and after > before):
            return StorageChange.WIDEN
        return StorageChange.REPLACE

    def normalize(self, field: FieldDef, value: Any) -> str | None:
        text = require_str(value)
        if not text.strip():
            return None
        return check_length(self.clean(field, text), self.max_length(field))

    def clean(self, field: FieldDef, text: str) -> str:
        """Turn a non-blank string into the stored form, or raise FieldValueError."""
        return text

    def option_errors(self, field: FieldDef) -> OptionErrors:
        return default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        length = self.max_length(field)
        if length is not None:
            schema["maxLength"] = length
        return schema

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)


class TextType(_StringType):
    """One line of text, leading and trailing whitespace removed; `max_length` 1..10000."""

    name = "text"
    option_names = frozenset({"max_length"})

    def max_length(self, field: FieldDef) -> int:
        return int_option_value(field, "max_length", TEXT_DEFAULT_LENGTH, 1, TEXT_MAX_LENGTH)

    def clean(self, field: FieldDef, text: str) -> str:
        return text.strip()

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        int_option(field, "max_length", TEXT_DEFAULT_LENGTH, 1, TEXT_MAX_LENGTH, errors)
        return errors + super().option_errors(field)


class TextareaType(_StringType):
    """Multi-line text kept exactly as entered; unbounded unless `max_length` is set."""

    name = "textarea"
    option_names = frozenset({"max_length"})
    sortable = False

    def max_length(self, field: FieldDef) -> int | None:
        if field.option("max_length") is None:
            return None
        return int_option_value(field, "max_length", TEXT_MAX_LENGTH, 1, TEXT_MAX_LENGTH)

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        int_option(field, "max_length", None, 1, TEXT_MAX_LENGTH, errors)
        return errors + super().option_errors(field)


class EmailType(_StringType):
    """An email address; the domain is normalised to lower case (the local part is kept)."""

    name = "email"

    def max_length(self, field: FieldDef) -> int:
        return EMAIL_MAX_LENGTH

    def clean(self, field: FieldDef, text: str) -> str:
        try:
            result = validate_email(text.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            raise FieldValueError(f"is not a valid email address: {exc}") from None
        local, _, domain = result.normalized.rpartition("@")
        return f"{local}@{domain.lower()}"

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "format": "email", "maxLength": EMAIL_MAX_LENGTH}


class PhoneType(_StringType):
    """A phone number stored in E.164 (`+` country code and number, digits only).

    Numbers written without `+` are read in the field's `default_region` (ISO 3166 alpha-2);
    without one, they are refused.
    """

    name = "phone"
    option_names = frozenset({"default_region"})

    def max_length(self, field: FieldDef) -> int:
        return PHONE_MAX_LENGTH

    def clean(self, field: FieldDef, text: str) -> str:
        region = field.option("default_region")
        text = text.strip()
        if not text.startswith("+") and not isinstance(region, str):
            raise FieldValueError("must start with + and the country code")
        try:
            number = phonenumbers.parse(text, region if isinstance(region, str) else None)
        except phonenumbers.NumberParseException:
            raise FieldValueError("is not a valid phone number") from None
        if not phonenumbers.is_valid_number(number):
            raise FieldValueError("is not a valid phone number")
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def option_errors(self, field: FieldDef) -> OptionErrors:
        region = field.option("default_region")
        errors: OptionErrors = []
        if region is not None and (
            not isinstance(region, str) or region not in phonenumbers.SUPPORTED_REGIONS
        ):
            errors.append(("default_region", "must be an ISO 3166 country code such as 'US'"))
        return errors + super().option_errors(field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": r"^\+[1-9][0-9]{1,14}$",
            "description": "E.164 phone number, e.g. +14155550123",
        }


URL_REFUSED = frozenset('"<>')


class UrlType(_StringType):
    """An absolute http(s) address with a host; scheme and host normalised to lower case."""

    name = "url"

    def max_length(self, field: FieldDef) -> int:
        return URL_MAX_LENGTH

    def clean(self, field: FieldDef, text: str) -> str:
        text = text.strip()
        if any(ch.isspace() for ch in text):
            raise FieldValueError("must not contain spaces")
        if any(ch in URL_REFUSED for ch in text):
            # Not valid in a URL (RFC 3986) and the characters that break out of an HTML
            # attribute or tag wherever the address is shown as a link.
            raise FieldValueError('must not contain ", < or >; write them as %22, %3C, %3E')
        try:
            parts = urlsplit(text)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise FieldValueError("is not a valid URL") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise FieldValueError("must start with http:// or https://")
        if not host:
            raise FieldValueError("must name a host, e.g. https://example.com")
        netloc = parts.netloc
        at = netloc.rfind("@") + 1
        netloc = netloc[:at] + netloc[at:].lower()
        return urlunsplit(
            (parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment)
        )

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "format": "uri", "maxLength": URL_MAX_LENGTH,
                "pattern": '^\\s*[^\\s"<>]+\\s*$'}
