"""Summary and matrix reports: groups x metrics in one SQL statement, then subtotals, the
grand total, averages and ratios computed from the grouped rows.

Metrics become access-layer measures: `avg` is a sum and a count of values (exact
decimals, the same on both databases); `median` reads the group's values (one text per
group, rolled up by joining them — a median is no roll-up of its groups' medians), so it
costs memory in the number of values; `ratio` divides two other metrics per row. Counts,
sums, minima and maxima roll up from the groups; `count_distinct` does not, so its
subtotals and total take one more grouped query per level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from metacrm.access.aggregate_query import AggregateQuery, Dimension, Measure
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.metadata.model import DimensionDef, ReportDef
from metacrm.reports.result import ReportResult, ResultColumn, json_value
from metacrm.reports.run_options import RunOptions
from metacrm.storage.date_buckets import bucket_name, bucket_start, bucket_value

RATIO_PLACES = Decimal("0.0001")
AVG_PLACES = Decimal("0.01")


def dimension_name(dim: DimensionDef) -> str:
    base = dim.path.replace(".", "_")
    return f"{base}_{dim.bucket}" if dim.bucket else base


@dataclass(frozen=True, slots=True)
class MetricPlan:
    """Which measures (by index) one metric reads, and how."""

    name: str
    op: str
    measures: tuple[int, ...]
    numerator: str | None = None
    denominator: str | None = None


def _measure(metric: Mapping[str, Any], op: str, pointer: str) -> Measure:
    return Measure(op=op, path=metric["field"], criteria=metric["filter"],
                   where=metric["where"], currency=metric["currency"], pointer=pointer)


def plan_metrics(report: ReportDef) -> tuple[list[Measure], list[MetricPlan]]:
    measures: list[Measure] = []
    plans: list[MetricPlan] = []
    for index, metric in enumerate(report.metrics):
        op, name, pointer = str(metric["op"]), str(metric["name"]), f"/metrics/{index}"
        if op == "ratio":
            plans.append(MetricPlan(name, op, (), str(metric["numerator"]),
                                    str(metric["denominator"])))
            continue
        if op == "count" and metric["field"] is not None:
            op = "count_values"  # count of the non-empty values of the field
        ops = (("sum", "count_values") if op == "avg" else ("values",) if op == "median"
               else (op,))
        first = len(measures)
        measures.extend(_measure(metric, part, pointer) for part in ops)
        plans.append(MetricPlan(name, op, tuple(range(first, first + len(ops)))))
    return measures, plans


def _combine(op: str, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if op in ("min", "max"):
        return min(a, b) if op == "min" else max(a, b)
    if op == "values":
        return f"{a},{b}"
    return a + b


def median(values: str | None) -> Decimal | None:
    """The median of a `values` measure (the middle value, or the mean of the middle two),
    to two places; None without values."""
    if not values:
        return None
    numbers = sorted(Decimal(part) for part in values.split(",") if part)
    if not numbers:
        return None
    middle = len(numbers) // 2
    found = (numbers[middle] if len(numbers) % 2
             else (numbers[middle - 1] + numbers[middle]) / 2)
    return found.quantize(AVG_PLACES)


def _roll(rows: Sequence[tuple[Any, ...]], measures: Sequence[Measure], width: int
          ) -> dict[tuple[Any, ...], list[Any]]:
    """Rows grouped by their first `width` dimension values, measures combined."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    dims = len(rows[0]) - len(measures) if rows else 0
    for row in rows:
        key = tuple(row[:width])
        values = list(row[dims:])
        if key not in out:
            out[key] = values
            continue
        current = out[key]
        for i, measure in enumerate(measures):
            current[i] = _combine(measure.op, current[i], values[i])
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


class SummaryRunner:
    """Runs one summary or matrix report for one subject."""

    def __init__(self, scoped: ScopedRepository, report: ReportDef, options: RunOptions,
                 run_criteria: Any) -> None:
        self.scoped = scoped
        self.report = report
        self.options = options
        self.run_criteria = run_criteria
        self.measures, self.plans = plan_metrics(report)
        self.dims = [*report.dimensions, *(report.columns if report.type == "matrix" else ())]

    def query(self, dims: Sequence[DimensionDef], measures: Sequence[Measure]
              ) -> AggregateQuery:
        pointers = [f"/group_by/{i}" for i in range(len(self.report.dimensions))]
        pointers.append("/columns/0")
        return AggregateQuery(
            dimensions=tuple(Dimension(d.path, d.bucket, pointer=p)
                             for d, p in zip(dims, pointers, strict=False)),
            measures=tuple(measures), criteria=self.report.filter, where=self.report.where,
            time_zone=self.options.time_zone, fiscal_start=self.options.fiscal_start,
            run_criteria=self.run_criteria)

    def dim_value(self, dim: DimensionDef, raw: Any) -> Any:
        if dim.bucket is None:
            return raw
        day = bucket_value(raw)
        return None if day is None else bucket_start(day, dim.bucket, self.options.fiscal_start)

    def metrics(self, values: Sequence[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for plan in self.plans:
            if plan.op == "avg":
                total, count = (values[i] for i in plan.measures)
                out[plan.name] = (None if not count or total is None
                                  else (Decimal(total) / count).quantize(AVG_PLACES))
            elif plan.op == "median":
                out[plan.name] = median(values[plan.measures[0]])
            elif plan.op == "ratio":
                continue
            else:
                value = values[plan.measures[0]]
                if plan.op.startswith("count") and value is None:  # no group: zero
                    value = 0
                out[plan.name] = value
        for plan in self.plans:
            if plan.op == "ratio":
                num, den = out.get(plan.numerator or ""), out.get(plan.denominator or "")
                out[plan.name] = (None if not den or num is None
                                  else (Decimal(num) / Decimal(den)).quantize(RATIO_PLACES))
        return {name: json_value(value) for name, value in out.items()}

    def label(self, dim: DimensionDef, value: Any) -> Any:
        if dim.bucket is not None and value is not None:
            return bucket_name(value, dim.bucket, self.options.fiscal_start)
        return json_value(value)

    def grouped(self, conn: sa.Connection, dims: Sequence[DimensionDef],
                measures: Sequence[Measure]) -> list[tuple[Any, ...]]:
        rows = self.scoped.aggregate(conn, self.report.entity, self.query(dims, measures))
        n = len(dims)
        converted = [tuple(self.dim_value(d, row[i]) for i, d in enumerate(dims)) + row[n:]
                     for row in rows]
        converted.sort(key=lambda row: tuple(_sort_key(v) for v in row[:n]))
        return converted

    def levels(self, conn: sa.Connection, rows: list[tuple[Any, ...]], width: int
               ) -> dict[tuple[Any, ...], list[Any]]:
        """Measures per group of the first `width` dimensions (a subtotal level)."""
        rolled = _roll(rows, self.measures, width)
        distinct = [i for i, m in enumerate(self.measures) if m.op == "count_distinct"]
        if distinct and width < len(self.dims):
            exact = self.grouped(conn, self.dims[:width], [self.measures[i] for i in distinct])
            for row in exact:
                key = tuple(row[:width])
                for j, i in enumerate(distinct):
                    rolled.setdefault(key, [None] * len(self.measures))[i] = row[width + j]
        return rolled

    def run(self, conn: sa.Connection) -> ReportResult:
        n = len(self.dims)
        rows = self.grouped(conn, self.dims, self.measures)
        columns = [ResultColumn(dimension_name(d), d.label, "dimension",
                                "bucket" if d.bucket else "value") for d in self.dims]
        columns.extend(ResultColumn(str(m["name"]), m["label"], "metric",
                                    "ratio" if m["op"] == "ratio" else "number")
                       for m in self.report.metrics)
        names = [dimension_name(d) for d in self.dims]

        def dims_json(key: Sequence[Any]) -> dict[str, Any]:
            return {name: self.label(d, v) for name, d, v in zip(names, self.dims, key,
                                                                  strict=False)}

        out_rows = [{**dims_json(row[:n]), **self.metrics(row[n:])} for row in rows]
        result = ReportResult(columns, out_rows)
        if not self.report.totals and n:
            return result
        total = self.levels(conn, rows, 0).get((), [None] * len(self.measures))
        result.totals = self.metrics(total)
        for width in range(1, n):
            for key, values in self.levels(conn, rows, width).items():
                result.subtotals.append({**dims_json(key), "level": width,
                                         **self.metrics(values)})
        result.subtotals.sort(key=lambda s: s["level"])
        return result
