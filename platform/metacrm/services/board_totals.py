"""Sums of a money field per state, over the records one subject may read (kanban totals).

The records service answers pages and counts; a board also shows, per column, how much
money its records carry. That is one grouped `SUM` — and like every read made for a user it
must see only the subject's records: the condition comes from the subject's
`ScopedRepository` (`read_condition`: read scope AND criteria), exactly the WHERE a list
of the same records would use, so a total never counts a record its column would not show.

Amounts are summed per currency (adding dollars to euros needs exchange rates, which are
a report's business); records without an amount add nothing. A hidden money field, or a
hidden state field, is refused like an unknown one: its sums would leak its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.records import RecordsService

MONEY = "money"


@dataclass(frozen=True, slots=True)
class CurrencySum:
    """The total amount of one currency in one group."""

    currency: str
    amount: Decimal


def money_sums(
    records: RecordsService,
    subject: AccessSubject,
    entity: str,
    *,
    group_by: str,
    money_field: str,
    criteria: Any = None,
) -> dict[Any, tuple[CurrencySum, ...]]:
    """`{value of group_by: (sum per currency, ...)}` over the subject's readable records
    of `entity` matching `criteria`; groups without any amount are absent.

    Forbidden (403) when the subject may not read the entity; ValidationFailed when either
    field is unknown, hidden from the subject, or `money_field` is not a money field.
    """
    runtime = records.runtime()
    scoped = runtime.scoped(subject)
    scoped.require(entity, "read")
    visible = records.visible_entity(subject, entity)
    group_def = visible.field(group_by)
    money_def = visible.field(money_field)
    errors = []
    if group_def is None:
        errors.append(ErrorDetail(f"{group_by!r} is not a field of {entity!r}", "/group_by"))
    if money_def is None or money_def.type != MONEY:
        errors.append(ErrorDetail(f"{money_field!r} is not a money field of {entity!r}",
                                  "/money_field"))
    if errors or group_def is None or money_def is None:
        raise ValidationFailed("invalid totals", errors)
    table = scoped.repository.table(entity)
    group_column = table.c[_columns(records, group_def)[0]]
    amount_name, currency_name = _columns(records, money_def)[:2]
    amount, currency = table.c[amount_name], table.c[currency_name]
    total = sa.func.sum(amount, type_=amount.type).label("total")
    statement = (sa.select(group_column.label("grp"), currency.label("currency"), total)
                 .where(amount.is_not(None))
                 .group_by(group_column, currency)
                 .order_by(group_column, currency))
    where = scoped.read_condition(entity, criteria, None)  # the subject's read scope
    if where is not None:
        statement = statement.where(where)
    default = str(money_def.option("currency") or "")
    found: dict[Any, list[CurrencySum]] = {}
    with records.engine.connect() as conn:
        for row in conn.execute(statement):
            if row.total is None:
                continue
            found.setdefault(row.grp, []).append(
                CurrencySum(row.currency or default, Decimal(row.total)))
    return {group: tuple(_merged(sums)) for group, sums in found.items()}


def _columns(records: RecordsService, field: Any) -> Sequence[str]:
    """The physical column names of a field (the first is its main column)."""
    return [spec.name for spec in records.registry.get(field.type).columns(field)]


def _merged(sums: Sequence[CurrencySum]) -> list[CurrencySum]:
    """One sum per currency (rows without a stored currency fall back to the default)."""
    merged: dict[str, Decimal] = {}
    for item in sums:
        merged[item.currency] = merged.get(item.currency, Decimal(0)) + item.amount
    return [CurrencySum(code, amount) for code, amount in sorted(merged.items())]

