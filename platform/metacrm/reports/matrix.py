"""Matrix (pivot) reports: the summary of rows x the column dimension, one row per row
group with a cell per column value; the column totals are the summary's subtotals of
the row groups turned around."""

from __future__ import annotations

from typing import Any

from metacrm.metadata.model import ReportDef
from metacrm.reports.result import ReportResult
from metacrm.reports.summary import dimension_name


def pivot(summary: ReportResult, report: ReportDef) -> ReportResult:
    """`rows`: the row dimensions and `cells` {column value: {metric: value}}; `totals`
    the grand total; `column_values` the column values in order."""
    row_names = [dimension_name(d) for d in report.dimensions]
    column_name = dimension_name(report.columns[0])
    metrics = [str(m["name"]) for m in report.metrics]
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    column_values: list[Any] = []
    for row in summary.rows:
        key = tuple(row[name] for name in row_names)
        out = rows.setdefault(key, {**{n: row[n] for n in row_names}, "cells": {}})
        value = row[column_name]
        if value not in column_values:
            column_values.append(value)
        out["cells"][str(value)] = {m: row[m] for m in metrics}
    width = len(row_names)
    for subtotal in summary.subtotals:
        if subtotal["level"] == width:
            key = tuple(subtotal[name] for name in row_names)
            if key in rows:
                rows[key]["total"] = {m: subtotal[m] for m in metrics}
    result = ReportResult(
        [c for c in summary.columns if c.name != column_name], list(rows.values()),
        summary.totals,
        [s for s in summary.subtotals if s["level"] < width])
    result.column_values = column_values
    return result
