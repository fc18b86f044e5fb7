"""Computed values: `{"formula": "record.amount * 0.1"}` in an action's values.

A formula is one Jinja2 expression (`Environment.compile_expression`) run in the automation
sandbox with the template variables (`record`, `previous`, `trigger`, `now`, `today`) and
helpers (`add_days`, `add_business_days`, `days_between`); nothing is `eval`ed. Numbers are
exact (a decimal times `0.1` stays a decimal), money keeps its currency.

The result is coerced to the target field's type and validated by it: a float becomes the
decimal it prints as, a decimal with no fraction fits an integer field, numbers and dates
become text for text fields, a datetime becomes its (UTC) date for a date field, a money
amount becomes a number for number fields. What still does not fit is a 422 naming the field.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.environment import TemplateExpression
from jinja2.runtime import Undefined

from metacrm.automation.sandbox import make_sandbox
from metacrm.automation.sandbox_limits import within_time_limit
from metacrm.automation.templates import failure_reason, reference_errors
from metacrm.fieldtypes.base import FieldValueError
from metacrm.fieldtypes.money import Money
from metacrm.fieldtypes.numeric import decimal_to_json
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.compiler.computed import read_expression
from metacrm.metadata.model import EntityDef, FieldDef

MAX_FORMULA = 2_000
"""Characters a formula may have."""

TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "url", "picklist"})
NUMBER_TYPES = frozenset({"integer", "decimal", "percent"})


def _as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return decimal_to_json(value)
    if isinstance(value, int | Money):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def prepare_result(field: FieldDef, value: Any) -> Any:
    """A formula's result in a form the field type's `normalize` accepts when it means to."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Money) and field.type in NUMBER_TYPES:
        value = value.amount
    if field.type == "integer" and isinstance(value, Decimal) and \
            value.is_finite() and value == value.to_integral_value():
        return int(value)
    if field.type in TEXT_TYPES:
        return _as_text(value)
    if field.type == "date" and isinstance(value, datetime):
        return value.date()
    if field.type == "multi_picklist" and isinstance(value, list | tuple):
        return list(value)
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Formulas:
    """Checks and evaluates formulas; compiled once per text and metadata version."""

    def __init__(self, registry: FieldTypeRegistry) -> None:
        self._registry = registry
        self._environment = make_sandbox()
        self._lock = threading.Lock()
        self._version: object = None
        self._compiled: dict[str, TemplateExpression] = {}

    def _parse(self, text: str) -> nodes.Expr:
        return read_expression(self._environment, text)

    def check(self, text: Any, pointer: str, entity: EntityDef) -> list[ErrorDetail]:
        """Problems with a formula for a trigger on `entity` (syntax, unknown names and
        fields), each at `pointer`."""
        if not isinstance(text, str) or not text.strip():
            return [ErrorDetail("a formula must be a non-empty expression text", pointer)]
        if len(text) > MAX_FORMULA:
            return [ErrorDetail(f"a formula has at most {MAX_FORMULA} characters", pointer)]
        try:
            expression = self._parse(text)
        except TemplateSyntaxError as exc:
            return [ErrorDetail(f"formula syntax error: {exc.message}", pointer)]
        names = {name.name for name in expression.find_all(nodes.Name) if name.ctx == "load"}
        return reference_errors(expression, names, set(self._environment.globals), entity,
                                pointer, "formula")

    def compiled(self, text: str, *, version: object = None) -> TemplateExpression:
        with self._lock:
            if version != self._version:
                self._compiled.clear()
                self._version = version
            expression = self._compiled.get(text)
        if expression is None:
            expression = self._environment.compile_expression(text, undefined_to_none=False)
            with self._lock:
                if version == self._version:
                    self._compiled[text] = expression
        return expression

    def evaluate(
        self, text: str, variables: Mapping[str, Any], *, pointer: str = "",
        version: object = None,
    ) -> Any:
        """The formula's value; failures are a ValidationFailed naming `pointer`."""
        try:
            expression = self.compiled(text, version=version)
            result = within_time_limit(lambda: expression(**variables))
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
        except Exception as exc:  # the formula's own error, reported, never a crash
            reason = (f"formula syntax error: {exc.message}"
                      if isinstance(exc, TemplateSyntaxError) else failure_reason(exc))
            raise ValidationFailed(f"the formula at {pointer or '/'} failed: {reason}",
                                   [ErrorDetail(reason, pointer)]) from None
        return result

    def coerce(self, field: FieldDef, value: Any, *, pointer: str = "") -> Any:
        """A computed value as the JSON value of `field`; ValidationFailed (naming the
        field) when the field's type refuses it."""
        if value is None:
            return None
        field_type = self._registry.get(field.type)
        try:
            normalized = field_type.normalize(field, prepare_result(field, value))
        except (FieldValueError, ValueError, TypeError) as exc:
            reason = f"the computed value {_shown(value)} does not fit field {field.name!r}: {exc}"
            raise ValidationFailed(f"invalid computed value for {field.name!r}",
                                   [ErrorDetail(reason, pointer)]) from None
        return None if normalized is None else field_type.to_json(field, normalized)

    def value_for(
        self, field: FieldDef, text: str, variables: Mapping[str, Any], *,
        pointer: str = "", version: object = None,
    ) -> Any:
        """Evaluate `text` and coerce the result for `field` (JSON form)."""
        return self.coerce(field, self.evaluate(text, variables, pointer=pointer,
                                                version=version), pointer=pointer)
