"""The money field type: an exact amount and an ISO 4217 currency code, in two columns.

Columns `<name>` (the amount, `ExactDecimal`) and `<name>_currency` (`CHAR(3)`-like text).
Criteria compare, and lists sort by, the amount alone: comparing across currencies needs
exchange rates, which are a report's business, not a filter's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import String

from metacrm.fieldtypes.base import ColumnSpec, FieldValueError
from metacrm.fieldtypes.common import OptionErrors
from metacrm.fieldtypes.numeric import ExactNumberType, decimal_pattern, decimal_to_json
from metacrm.metadata.model import FieldDef

CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency; the Python value of money fields."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{decimal_to_json(self.amount)} {self.currency}"


def currency_column(field: FieldDef) -> str:
    return f"{field.name}_currency"


class MoneyType(ExactNumberType):
    """`precision`/`scale` as decimal; `currency` (default code); `currencies` (allowed list)."""

    name = "money"
    option_names = frozenset({"precision", "scale", "min", "max", "currency", "currencies"})

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [*super().columns(field), ColumnSpec(currency_column(field), String(3))]

    def to_storage(self, field: FieldDef, value: Any) -> dict[str, Any]:
        if value is None:
            return {field.name: None, currency_column(field): None}
        return {field.name: value.amount, currency_column(field): value.currency}

    def from_storage(self, field: FieldDef, row: Mapping[str, Any]) -> Money | None:
        amount = row[field.name]
        if amount is None:
            return None
        currency = row.get(currency_column(field)) or self.default_currency(field) or ""
        return Money(amount, currency)

    def default_currency(self, field: FieldDef) -> str | None:
        code = field.option("currency")
        return code if isinstance(code, str) and CURRENCY_CODE.match(code) else None

    def allowed_currencies(self, field: FieldDef) -> tuple[str, ...] | None:
        codes = field.option("currencies")
        if not isinstance(codes, list | tuple):
            return None
        return tuple(code for code in codes if isinstance(code, str))

    def normalize(self, field: FieldDef, value: Any) -> Money:
        amount_in: Any
        currency_in: Any
        if isinstance(value, Money):
            amount_in, currency_in = value.amount, value.currency
        elif isinstance(value, Mapping):
            unknown = set(value) - {"amount", "currency"}
            if unknown:
                raise FieldValueError(
                    f"has unknown keys {sorted(unknown)}; expected amount and currency"
                )
            if value.get("amount") is None:
                raise FieldValueError("needs an amount")
            amount_in, currency_in = value["amount"], value.get("currency")
        else:
            amount_in, currency_in = value, None
        currency = self.currency(field, currency_in)
        amount = self.parse(field, amount_in)
        self.check_bounds(field, amount)
        return Money(amount, currency)

    def currency(self, field: FieldDef, given: Any) -> str:
        if given is None:
            given = self.default_currency(field)
            if given is None:
                raise FieldValueError("needs a currency code such as 'USD'")
        if not isinstance(given, str) or not CURRENCY_CODE.match(given.strip().upper()):
            raise FieldValueError("currency must be a three-letter ISO 4217 code such as 'USD'")
        code = given.strip().upper()
        allowed = self.allowed_currencies(field)
        if allowed is not None and code not in allowed:
            raise FieldValueError(f"currency must be one of: {', '.join(allowed)}")
        return code

    def criteria_value(self, field: FieldDef, value: Any) -> Any:
        return value.amount if isinstance(value, Money) else value

    def coerce_operand(self, field: FieldDef, value: Any) -> Decimal:
        """Criteria compare amounts: accept an amount or a money object (its amount)."""
        if isinstance(value, Money):
            value = value.amount
        elif isinstance(value, Mapping):
            value = value.get("amount")
            if value is None:
                raise FieldValueError("needs an amount")
        return self.parse(field, value)

    def to_json(self, field: FieldDef, value: Any) -> dict[str, str]:
        return {"amount": decimal_to_json(value.amount), "currency": value.currency}

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        code = field.option("currency")
        if code is not None and not (isinstance(code, str) and CURRENCY_CODE.match(code)):
            errors.append(("currency", "must be a three-letter ISO 4217 code such as 'USD'"))
        codes = field.option("currencies")
        if codes is not None:
            if (
                not isinstance(codes, list | tuple)
                or not codes
                or not all(isinstance(c, str) and CURRENCY_CODE.match(c) for c in codes)
            ):
                errors.append(
                    ("currencies", "must be a non-empty list of ISO 4217 codes such as 'USD'")
                )
            elif len(set(codes)) != len(codes):
                errors.append(("currencies", "must not list a currency twice"))
            elif isinstance(code, str) and code not in codes:
                errors.append(("currency", "must be one of the allowed currencies"))
        if errors:
            return errors
        return super().option_errors(field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        currency: dict[str, Any] = {"type": "string", "pattern": "^[A-Z]{3}$"}
        allowed = self.allowed_currencies(field)
        if allowed:
            currency = {"type": "string", "enum": list(allowed)}
        return {
            "type": "object",
            "properties": {
                "amount": {"type": "string", "pattern": decimal_pattern(
                    self.precision(field) - self.scale(field))},
                "currency": currency,
            },
            # a field with a default currency takes an amount alone (`currency()` fills it)
            "required": ["amount"] if self.default_currency(field) else ["amount", "currency"],
            "additionalProperties": False,
        }
