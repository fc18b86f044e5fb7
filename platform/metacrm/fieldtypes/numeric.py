"""Number field types: integer (64-bit), decimal and percent (exact, see `ExactDecimal`).

Decimals travel through the API as strings ("12.50") so no client float rounds them; on input
numbers and strings are both accepted, rounded half-up to the field's scale, and refused when
they have more digits before the point than the precision leaves room for.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from marshmallow import fields as ma_fields
from sqlalchemy import BigInteger

from metacrm.fieldtypes.base import (
    ORDERED_OPERATORS,
    ColumnSpec,
    FieldType,
    FieldValueError,
    StorageChange,
)
from metacrm.fieldtypes.common import (
    FieldTypeField,
    OptionErrors,
    default_errors,
    int_option,
    int_option_value,
    is_int,
)
from metacrm.fieldtypes.sqltypes import ExactDecimal
from metacrm.metadata.model import FieldDef

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def decimal_pattern(integer_digits: int) -> str:
    """What a decimal with at most `integer_digits` digits before the point looks like as
    text (leading zeros do not count; more digits after the point are rounded): the value
    schemas state the precision the server checks (`fit_decimal`)."""
    if integer_digits <= 0:
        return r"^-?0+(\.[0-9]+)?$"
    return rf"^-?0*[0-9]{{1,{integer_digits}}}(\.[0-9]+)?$"
INTEGER_TEXT = re.compile(r"^[+-]?[0-9]{1,25}$")


def parse_integer(value: Any) -> int:
    """A JSON number or numeric string without a fraction -> int within 64 bits."""
    if is_int(value) or (isinstance(value, float) and value.is_integer()):
        number = int(value)
    elif isinstance(value, str) and INTEGER_TEXT.match(value.strip()):
        number = int(value.strip())
    else:
        raise FieldValueError("must be a whole number")
    if not INT64_MIN <= number <= INT64_MAX:
        raise FieldValueError("is too large for a whole number field")
    return number


def parse_decimal(value: Any) -> Decimal:
    """A JSON number, numeric string or Decimal -> a finite Decimal (not yet quantised)."""
    if isinstance(value, bool):
        raise FieldValueError("must be a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str) and len(value) <= 100:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise FieldValueError("must be a number such as 12.50") from None
    else:
        raise FieldValueError("must be a number such as 12.50")
    if not number.is_finite():
        raise FieldValueError("must be a finite number")
    return number


def fit_decimal(number: Decimal, precision: int, scale: int) -> Decimal:
    """Round half-up to `scale` places; refuse values with more digits than fit."""
    integer_digits = precision - scale
    if number.adjusted() >= integer_digits + 1:  # cheap guard against huge exponents
        raise FieldValueError(f"must have at most {integer_digits} digits before the point")
    quantised = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if abs(quantised) >= Decimal(10) ** integer_digits:
        raise FieldValueError(f"must have at most {integer_digits} digits before the point")
    return quantised + Decimal(0)  # turns -0.00 into 0.00


def decimal_to_json(value: Decimal) -> str:
    return format(value, "f")


class IntegerType(FieldType):
    """A whole number in a 64-bit column; optional `min`/`max`."""

    name = "integer"
    operators = ORDERED_OPERATORS
    option_names = frozenset({"min", "max"})

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, BigInteger())]

    def normalize(self, field: FieldDef, value: Any) -> int:
        number = parse_integer(value)
        low, high = field.option("min"), field.option("max")
        if is_int(low) and number < low:
            raise FieldValueError(f"must be at least {low}")
        if is_int(high) and number > high:
            raise FieldValueError(f"must be at most {high}")
        return number

    def coerce_operand(self, field: FieldDef, value: Any) -> int:
        """Criteria may compare with any whole number, also outside `min`/`max`."""
        return parse_integer(value)

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        low = int_option(field, "min", None, INT64_MIN, INT64_MAX, errors)
        high = int_option(field, "max", None, INT64_MIN, INT64_MAX, errors)
        if low is not None and high is not None and low > high:
            errors.append(("max", "must not be less than min"))
        return errors + default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}
        if is_int(field.option("min")):
            schema["minimum"] = field.option("min")
        if is_int(field.option("max")):
            schema["maximum"] = field.option("max")
        return schema

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)


class ExactNumberType(FieldType):
    """What decimal, percent and money share: an exact number with precision and scale."""

    operators = ORDERED_OPERATORS
    option_names = frozenset({"precision", "scale", "min", "max"})
    default_precision = 18
    default_scale = 2

    def precision(self, field: FieldDef) -> int:
        return int_option_value(field, "precision", self.default_precision, 1, 18)

    def scale(self, field: FieldDef) -> int:
        scale = int_option_value(field, "scale", self.default_scale, 0, 18)
        return min(scale, self.precision(field))

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, ExactDecimal(self.precision(field), self.scale(field)))]

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        before = (self.precision(old), self.scale(old))
        after = (self.precision(new), self.scale(new))
        if before == after:
            return StorageChange.NONE
        if before[1] == after[1] and after[0] > before[0]:
            return StorageChange.WIDEN
        return StorageChange.REPLACE

    def parse(self, field: FieldDef, value: Any) -> Decimal:
        """Any accepted input -> a quantised Decimal that fits the column (no min/max)."""
        return fit_decimal(parse_decimal(value), self.precision(field), self.scale(field))

    def check_bounds(self, field: FieldDef, number: Decimal) -> None:
        for key, too_far, words in (("min", number.__lt__, "at least"),
                                    ("max", number.__gt__, "at most")):
            bound = field.option(key)
            if bound is None:
                continue
            try:
                limit = parse_decimal(bound)
            except FieldValueError:
                continue
            if too_far(limit):
                raise FieldValueError(f"must be {words} {decimal_to_json(limit)}")

    def coerce_operand(self, field: FieldDef, value: Any) -> Decimal:
        return self.parse(field, value)

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        precision = int_option(field, "precision", self.default_precision, 1, 18, errors)
        scale = int_option(field, "scale", self.default_scale, 0, 18, errors)
        if precision is not None and scale is not None and scale > precision:
            errors.append(("scale", "must not be greater than precision"))
        bounds: dict[str, Decimal] = {}
        for key in ("min", "max"):
            if field.option(key) is None:
                continue
            try:
                bounds[key] = self.parse(field, field.option(key))
            except FieldValueError as exc:
                errors.append((key, str(exc)))
        if len(bounds) == 2 and bounds["min"] > bounds["max"]:
            errors.append(("max", "must not be less than min"))
        return errors + default_errors(self, field)

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)


class DecimalType(ExactNumberType):
    """An exact decimal: `precision` 1..18 digits (default 18), `scale` of them after the point."""

    name = "decimal"

    def normalize(self, field: FieldDef, value: Any) -> Decimal:
        number = self.parse(field, value)
        self.check_bounds(field, number)
        return number

    def to_json(self, field: FieldDef, value: Any) -> str:
        return decimal_to_json(value)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": decimal_pattern(self.precision(field) - self.scale(field)),
            "description": (
                f"decimal number as a string, at most {self.precision(field)} digits, "
                f"{self.scale(field)} after the point"
            ),
        }


class PercentType(DecimalType):
    """A number of percent ("12.5" means 12.5 %), exact with `scale` places (default 2)."""

    name = "percent"
    option_names = frozenset({"scale", "min", "max"})

    def precision(self, field: FieldDef) -> int:
        return 18

    def scale(self, field: FieldDef) -> int:
        return int_option_value(field, "scale", self.default_scale, 0, 12)

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        int_option(field, "scale", self.default_scale, 0, 12, errors)
        if errors:
            return errors
        return super().option_errors(field)
