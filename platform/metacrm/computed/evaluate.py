"""Computing one formula or rollup value.

Formulas run in the automation sandbox (`metacrm.automation.sandbox`: Jinja2's immutable
sandbox with exact decimal and money arithmetic, size and time limits) — nothing is
`eval`ed. The record's own fields are variables by name; a reference is a variable whose
attributes are the fields of the record it points at (all empty when the reference is).
A formula over an empty input (`quantity * None`) is empty: write `(discount or 0)` where
an empty value means zero. Any other failure (division by zero, amounts in two
currencies) refuses the save with a 422 naming the field.

Rollups read the related records through the engine's unscoped reads and aggregate in
Python: sums of money need one currency, counts and sums of nothing are 0, min and max of
nothing are empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from jinja2.runtime import Undefined

from metacrm.access.system_records import SystemRecords
from metacrm.automation.formulas import Formulas
from metacrm.automation.sandbox import FieldValues
from metacrm.automation.sandbox_limits import within_time_limit
from metacrm.automation.templates import failure_reason
from metacrm.fieldtypes.money import Money
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.compiler.computed import FORMULA_FUNCTIONS
from metacrm.metadata.model import CompiledModel, FieldDef, FormulaDef, RollupDef

MAX_ROLLUP_ROWS = 10_000
"""Records one rollup may aggregate; a change that would need more is refused."""
PAGE = 500
DEFAULT_CURRENCY = "USD"

Loader = Callable[[str, Any], Mapping[str, Any] | None]
"""(entity, id) -> the record (Python values) or None."""


def _refused(fdef: FieldDef, reason: str) -> ValidationFailed:
    return ValidationFailed(f"cannot compute {fdef.name!r}: {reason}",
                            [ErrorDetail(f"cannot be computed: {reason}", f"/{fdef.name}")])


def _none_operand(exc: Exception) -> bool:
    return isinstance(exc, TypeError) and "NoneType" in str(exc)


class Evaluator:
    """Formula values and rollup values as the JSON values to store."""

    def __init__(self, formulas: Formulas) -> None:
        self.formulas = formulas

    def formula(
        self, model: CompiledModel, entity: str, fdef: FieldDef, record: Mapping[str, Any],
        load: Loader,
    ) -> Any:
        formula = fdef.computed
        assert isinstance(formula, FormulaDef)
        definition = model.entities[entity]
        variables: dict[str, Any] = {
            name: record.get(name) for name in formula.names if name not in FORMULA_FUNCTIONS}
        by_ref: dict[str, set[str]] = {}
        for ref, attr in formula.paths:
            by_ref.setdefault(ref, set()).add(attr)
        for ref, attrs in by_ref.items():
            target = (definition.field(ref) or fdef).target_entity or ""
            loaded = load(target, record.get(ref)) if record.get(ref) is not None else None
            variables[ref] = FieldValues({attr: (loaded or {}).get(attr) for attr in attrs})
        try:
            expression = self.formulas.compiled(formula.expression, version=model.checksum)
            result = within_time_limit(lambda: expression(**variables))
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
        except Exception as exc:  # the formula's own failure, reported, never a crash
            if _none_operand(exc):
                return None
            raise _refused(fdef, failure_reason(exc)) from None
        return self.formulas.coerce(fdef, result, pointer=f"/{fdef.name}")

    def empty_rollup(self, fdef: FieldDef) -> Any:
        """The value of a rollup over no record (a manual one stays empty)."""
        rollup = fdef.computed
        assert isinstance(rollup, RollupDef)
        if rollup.manual_when_empty:
            return None
        if rollup.aggregate == "count":
            return 0
        if rollup.aggregate == "sum":
            return self.formulas.coerce(fdef, self._sum(fdef, []), pointer=f"/{fdef.name}")
        return None

    def rollup(
        self, conn: sa.Connection, system: SystemRecords, fdef: FieldDef, parent_id: str,
    ) -> Any:
        rollup = fdef.computed
        assert isinstance(rollup, RollupDef)
        values = self._children_values(conn, system, fdef, rollup, parent_id)
        if rollup.aggregate == "count":
            return len(values)
        present = [value for value in values if value is not None]
        if rollup.aggregate == "sum":
            result = self._sum(fdef, present)
        elif not present:
            return None
        else:
            result = self._extreme(fdef, rollup.aggregate, present)
        return self.formulas.coerce(fdef, result, pointer=f"/{fdef.name}")

    def _children_values(
        self, conn: sa.Connection, system: SystemRecords, fdef: FieldDef, rollup: RollupDef,
        parent_id: str,
    ) -> list[Any]:
        criteria: Any = {"field": rollup.via, "op": "eq", "value": parent_id}
        if rollup.filter is not None:
            criteria = {"and": [criteria, rollup.filter]}
        values: list[Any] = []
        cursor: str | None = None
        while True:
            page = system.query(conn, rollup.entity, criteria=criteria, limit=PAGE,
                                cursor=cursor)
            values.extend(record.get(rollup.field) if rollup.field else True
                          for record in page.records)
            if len(values) > MAX_ROLLUP_ROWS:
                raise _refused(fdef, f"more than {MAX_ROLLUP_ROWS} {rollup.entity} records "
                                     "to aggregate")
            cursor = page.next_cursor
            if cursor is None:
                return values

    def _sum(self, fdef: FieldDef, values: list[Any]) -> Any:
        if fdef.type != "money":
            return sum((v.amount if isinstance(v, Money) else v for v in values), Decimal(0))
        currencies = {v.currency for v in values if isinstance(v, Money)}
        if len(currencies) > 1:
            raise _refused(fdef, "the amounts are in several currencies: "
                                 + ", ".join(sorted(currencies)))
        currency = currencies.pop() if currencies else str(
            fdef.option("currency") or DEFAULT_CURRENCY)
        return Money(sum((v.amount for v in values if isinstance(v, Money)), Decimal(0)),
                     currency)

    def _extreme(self, fdef: FieldDef, aggregate: str, values: list[Any]) -> Any:
        if any(isinstance(v, Money) for v in values):
            currencies = {v.currency for v in values if isinstance(v, Money)}
            if len(currencies) > 1:
                raise _refused(fdef, "the amounts are in several currencies: "
                                     + ", ".join(sorted(currencies)))
            pick = min if aggregate == "min" else max
            return pick(values, key=lambda v: v.amount if isinstance(v, Money) else v)
        return min(values) if aggregate == "min" else max(values)
