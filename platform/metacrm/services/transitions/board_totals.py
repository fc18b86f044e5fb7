"""Sums of a money field per state, over the records one subject may read (kanban totals).

The records service answers pages and counts; a board also shows, per column, how much
money its records carry. That is one grouped `SUM` — and like every read made for a user it
must see only the subject's records: the subject's `ScopedRepository` runs it
(`grouped_sums`: read scope AND criteria), exactly the WHERE a list of the same records
would use, so a total never counts a record its column would not show.

Amounts are summed per currency (adding dollars to euros needs exchange rates, which are
a report's business); records without an amount add nothing. A hidden money field, or a
hidden state field, is refused like an unknown one: its sums would leak its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.services.records.service import RecordsService


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
    scoped = records.runtime().scoped(subject)
    with records.engine.connect() as conn:
        rows = scoped.grouped_sums(conn, entity, group_by=group_by, money_field=money_field,
                                   criteria=criteria)
    money_def = records.visible_entity(subject, entity).field(money_field)
    default = str(money_def.option("currency") or "") if money_def is not None else ""
    found: dict[Any, list[CurrencySum]] = {}
    for row in rows:
        found.setdefault(row.group, []).append(CurrencySum(row.currency or default, row.total))
    return {group: tuple(_merged(sums)) for group, sums in found.items()}


def _merged(sums: Sequence[CurrencySum]) -> list[CurrencySum]:
    """One sum per currency (rows without a stored currency fall back to the default)."""
    merged: dict[str, Decimal] = {}
    for item in sums:
        merged[item.currency] = merged.get(item.currency, Decimal(0)) + item.amount
    return [CurrencySum(code, amount) for code, amount in sorted(merged.items())]

