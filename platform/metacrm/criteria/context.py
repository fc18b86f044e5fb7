"""Variables of the criteria language and the context that gives them values.

A criteria tree is stored once (a saved view, a permission rule, a trigger condition) and
evaluated for many users at many moments: `"$user"`, `"$team"`, `"$now"`, `"$today"` and
relative dates (`{"$today": {"days": -7}}`) are resolved against a `CriteriaContext` each time
a tree is compiled. "Today" is the UTC date of `now`.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from metacrm.kernel.clock import utc_now

VARIABLES = ("$user", "$team", "$now", "$today")
DATE_UNITS = ("days", "weeks", "months")
TIME_UNITS = ("minutes", "hours", *DATE_UNITS)
MAX_OFFSET = 1_000_000

MIN_DATETIME = datetime.min.replace(tzinfo=UTC)
MAX_DATETIME = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CriteriaContext:
    """Who is asking and when: the values of `$user`, `$team`, `$now` and `$today`."""

    user_id: str | None = None
    team_ids: tuple[str, ...] = ()
    now: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("CriteriaContext.now must be an aware datetime")
        object.__setattr__(self, "now", self.now.astimezone(UTC))
        object.__setattr__(self, "team_ids", tuple(self.team_ids))


@dataclass(frozen=True, slots=True)
class Variable:
    """A variable operand: `name` is one of VARIABLES; `offset` (unit, amount) pairs."""

    name: str
    offset: tuple[tuple[str, int], ...] = ()


def parse_variable(value: Any) -> Variable | str | None:
    """A JSON operand -> Variable; None when it is no variable; a reason when it is a bad one.

    Strings are variables only when they name one exactly ("$user"), so other text starting
    with "$" stays a literal. Objects are variables when their single key is "$now"/"$today".
    """
    if isinstance(value, str):
        return Variable(value) if value in VARIABLES else None
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    (name, offset), = value.items()
    if name not in ("$now", "$today"):
        return None
    units = DATE_UNITS if name == "$today" else TIME_UNITS
    if not isinstance(offset, Mapping):
        return f"the offset of {name} must be an object such as {{\"days\": -7}}"
    pairs: list[tuple[str, int]] = []
    for unit, amount in offset.items():
        if unit not in units:
            return f"offset unit {unit!r} of {name} is not one of: {', '.join(units)}"
        if not isinstance(amount, int) or isinstance(amount, bool):
            return f"offset {unit!r} of {name} must be a whole number"
        if abs(amount) > MAX_OFFSET:
            return f"offset {unit!r} of {name} must be between -{MAX_OFFSET} and {MAX_OFFSET}"
        pairs.append((unit, amount))
    return Variable(name, tuple(pairs))


def _add_months(day: date, months: int) -> date:
    """Calendar months, clamping the day: 31 January + 1 month = 28/29 February."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def _shift(moment: datetime, offset: tuple[tuple[str, int], ...]) -> datetime:
    """`moment` moved by `offset`, clamped to the representable range instead of failing."""
    for unit, amount in offset:
        try:
            if unit == "months":
                moment = datetime.combine(
                    _add_months(moment.date(), amount), moment.timetz()
                )
            else:
                moment = moment + timedelta(**{unit: amount})
        except OverflowError:
            return MAX_DATETIME if amount > 0 else MIN_DATETIME
    return moment


def resolve(variable: Variable, field_type: str, context: CriteriaContext) -> Any:
    """The variable's value for comparison with a field of type `field_type`.

    `$now` compared with a date field means today's date; `$today` compared with a datetime
    field means midnight (UTC) at the start of that day.
    """
    if variable.name == "$user":
        return context.user_id
    if variable.name == "$team":
        return context.team_ids
    if variable.name == "$today":
        start = datetime.combine(context.now.date(), time(), UTC)
        moment = _shift(start, variable.offset)
        if moment in (MIN_DATETIME, MAX_DATETIME):
            moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        moment = _shift(context.now, variable.offset)
    return moment.date() if field_type == "date" else moment
