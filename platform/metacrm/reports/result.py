"""A report's answer: columns, rows and totals, as the API returns them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from metacrm.metadata.model import Labels


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """One column: `role` dimension / metric / field; `type` the value's kind (a field
    type, `bucket`, `number`, `ratio`, `hours`...)."""

    name: str
    label: Labels
    role: str
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": dict(self.label), "role": self.role,
                "type": self.type}


@dataclass(slots=True)
class ReportResult:
    """`rows`: mappings column name -> JSON value (an iterable, so a list report streams);
    `totals`: the grand total of each metric, and `subtotals` per outer group."""

    columns: list[ResultColumn]
    rows: Iterable[Mapping[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)
    subtotals: list[dict[str, Any]] = field(default_factory=list)
    column_values: list[Any] | None = None
    """Matrix reports: the column dimension's values, in order."""

    def to_json(self) -> dict[str, Any]:
        out = {"columns": [c.to_json() for c in self.columns],
               "rows": [dict(row) for row in self.rows],
               "totals": self.totals, "subtotals": self.subtotals}
        if self.column_values is not None:
            out["column_values"] = self.column_values
        return out


def json_value(value: Any) -> Any:
    """A stored or computed value in JSON form: decimals as strings (exact), dates ISO."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value
