"""The Jinja2 sandbox that runs automation templates and formulas.

Templates and formulas are written by whoever edits metadata, and run inside the server with
record data. Jinja2's `ImmutableSandboxedEnvironment` keeps them away from Python's insides
(`__class__`, `mro`, `__globals__`... raise `SecurityError`) and from changing lists and dicts
in place; `StrictUndefined` turns a misspelt name into an error instead of empty text.

On top, the operators are intercepted (`call_binop`) so that:
* numbers mix: a stored decimal times a literal `0.1` is exact decimal arithmetic (Python
  refuses `Decimal * float`);
* money values compute: `record.amount * 0.1` is money in the same currency, `+`/`-` of two
  amounts need the same currency;
* a cheap expression cannot build a huge value (`"x" * 10**9`, `2 ** 1000000`).

The other size limits and the time limit of a render are in `sandbox_limits.py`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import StrictUndefined
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from metacrm.automation import sandbox_limits
from metacrm.automation.business_days import add_business_days
from metacrm.automation.sandbox_limits import MAX_TEXT, SandboxLimit, text_size
from metacrm.fieldtypes.money import Money

MAX_EXPONENT = 1_000
MAX_INTEGER_BITS = 100_000

_OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(value: Any) -> Any:
    """A float as the decimal it was written as (0.1 -> Decimal('0.1')); else unchanged."""
    if isinstance(value, float):
        try:
            return Decimal(repr(value))
        except InvalidOperation:
            return value
    return value


def _same_kind(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, Decimal) or isinstance(right, Decimal):
        return _decimal(left), _decimal(right)
    return left, right


def _size(value: Any) -> int | None:
    """The text size of a text or list (a list of long texts counts their lengths)."""
    if not isinstance(value, str | list | tuple):
        return None
    return max(len(value), text_size(value))


def _check_size(op: str, left: Any, right: Any) -> None:
    if op == "*":
        for sequence, count in ((left, right), (right, left)):
            length = _size(sequence)
            if length is not None and isinstance(count, int) and length * count > MAX_TEXT:
                raise SandboxLimit(f"'*' would make a value longer than {MAX_TEXT}")
    elif op == "+":
        left_size, right_size = _size(left), _size(right)
        if left_size is not None and right_size is not None and \
                left_size + right_size > MAX_TEXT:
            raise SandboxLimit(f"'+' would make a value longer than {MAX_TEXT}")
    elif op == "**" and _is_number(right):
        if abs(right) > MAX_EXPONENT:
            raise SandboxLimit(f"exponents are limited to {MAX_EXPONENT}")
        if isinstance(left, int) and left.bit_length() * abs(right) > MAX_INTEGER_BITS:
            raise SandboxLimit("'**' would make a number too large")
    elif op == "%" and isinstance(left, str):
        raise SandboxLimit("'%' formatting of text is not available; join text with '~'")


def _money_operation(op: str, left: Any, right: Any) -> Any:
    if isinstance(left, Money) and isinstance(right, Money):
        if left.currency != right.currency:
            raise ValueError(f"cannot combine {left.currency} and {right.currency} amounts")
        if op in ("+", "-"):
            return Money(_OPERATIONS[op](left.amount, right.amount), left.currency)
        if op == "/":
            return left.amount / right.amount
        raise TypeError(f"'{op}' does not apply to two money amounts")
    money, other = (left, right) if isinstance(left, Money) else (right, left)
    if not _is_number(other):
        raise TypeError(f"'{op}' does not apply to money and {type(other).__name__}")
    number = _decimal(other)
    if isinstance(left, Money):
        _check_size(op, money.amount, number)
        amount = _OPERATIONS[op](money.amount, number)
    elif op in ("+", "-", "*"):
        amount = _OPERATIONS[op](number, money.amount)
    else:
        raise TypeError(f"'{op}' does not apply to a number and money")
    return Money(amount, money.currency)


def binary_operation(op: str, left: Any, right: Any) -> Any:
    """`left <op> right` as templates and formulas compute it (see the module docstring)."""
    if isinstance(left, Money) or isinstance(right, Money):
        return _money_operation(op, left, right)
    left, right = _same_kind(left, right)
    _check_size(op, left, right)
    return _OPERATIONS[op](left, right)


class FieldValues:
    """Read-only values by name, for sandboxed code: `record.amount` or `record["amount"]`.

    Not a dict on purpose: a field called `items` or `values` must not be shadowed by a
    dict method.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no field {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"FieldValues({self._values!r})"


class AutomationUndefined(StrictUndefined):
    """StrictUndefined whose message names the missing field plainly."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint is None and isinstance(self._undefined_obj, FieldValues):
            return f"there is no field or value {self._undefined_name!r}"
        return str(super()._undefined_message)


class _SizedConcat(CodeGenerator):
    """Compiles `~` to `sandbox_limits.concat`, which sizes the parts before joining them
    (Jinja2 joins them directly, so `s ~ s ~ s ...` could build gigabytes)."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:  # noqa: N802  # Jinja2 visitor name
        self.write("environment.concat_sized((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), context.eval_ctx)")


class AutomationSandbox(ImmutableSandboxedEnvironment):
    """The sandboxed environment of templates (`autoescape` for HTML) and formulas."""

    code_generator_class = _SizedConcat
    intercepted_binops = frozenset(_OPERATIONS)
    intercepted_unops = frozenset({"-"})
    concat_sized = staticmethod(sandbox_limits.concat)

    def call(__self, __context: Context, __obj: Any,  # noqa: N805  # Jinja2's signature
             *args: Any, **kwargs: Any) -> Any:
        sandbox_limits.check_str_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = str(value.__self__)

        def checked(*args: Any, **kwargs: Any) -> str:
            sandbox_limits.check_format_string(text)
            sandbox_limits.check_text(
                sum(text_size(item) for item in (*args, *kwargs.values())), "format()")
            return wrapped(*args, **kwargs)

        return checked

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return binary_operation(operator, left, right)

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        if isinstance(arg, Money):
            return Money(-arg.amount, arg.currency)
        return -arg


def _none_as_empty(value: Any) -> Any:
    return "" if value is None else sandbox_limits.finalize_size(value)


def _whole(value: Any, what: str) -> int:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a whole number")
    return value


def _day(value: Any, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"{what} must be a date")


def add_days(day: date, days: int) -> date:
    """`day` (a date or datetime) shifted by `days` calendar days."""
    if not isinstance(day, date):
        raise TypeError("add_days needs a date")
    return day + timedelta(days=_whole(days, "the number of days"))


def add_working_days(day: date, days: int, country: str | None = None) -> date:
    """The date `days` business days after `day` (see `business_days`)."""
    return add_business_days(_day(day, "add_business_days' first argument"),
                             _whole(days, "the number of business days"), country)


def days_between(start: date, end: date) -> int:
    """Calendar days from `start` to `end` (negative when `end` is earlier)."""
    return (_day(end, "days_between's end") - _day(start, "days_between's start")).days


HELPERS: dict[str, Callable[..., Any]] = {
    "add_days": add_days,
    "add_business_days": add_working_days,
    "days_between": days_between,
}
"""Functions templates and formulas may call, besides Jinja2's filters."""


def make_sandbox(*, html: bool = False) -> AutomationSandbox:
    """A fresh sandbox: strict about undefined names, `None` printed as nothing, HTML
    escaping of every value when `html`."""
    sandbox = AutomationSandbox(
        undefined=AutomationUndefined,
        autoescape=html,
        finalize=_none_as_empty,
        keep_trailing_newline=True,
    )
    del sandbox.globals["lipsum"]
    sandbox.globals["range"] = sandbox_limits.limited_range
    sandbox.globals.update(HELPERS)
    sandbox.filters.update(sandbox_limits.LIMITED_FILTERS)
    return sandbox
