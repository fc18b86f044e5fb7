"""Drill-down: the criteria of the records behind one bar or slice of a report's chart.

A chart point is a value of the report's first dimension; the records behind it are those
the report counted — its `filter` and `where`, the run's filters (period, owner, team) —
whose dimension holds that value (a date bucket: a date in the bucket's range; funnels and
times in stage: the records in that state now). The list view takes the tree as its
`filter` parameter (`web/list_query.py`), checked there against what the user may see.
Dimensions through a reference (`company.industry`) cannot be written as a criteria of the
entity itself, so they do not drill.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from metacrm.metadata.model import EntityDef, ReportDef
from metacrm.reports.run_options import RunOptions

_BUCKET = re.compile(r"^(?P<fy>FY)?(?P<year>\d{4})(?:-(?:Q(?P<q>[1-4])|(?P<m>\d{2})"
                     r"(?:-(?P<d>\d{2}))?))?$")
_MONTHS = {"year": 12, "quarter": 3, "month": 1}


def _month_start(year: int, month_index: int) -> date:
    return date(year + month_index // 12, month_index % 12 + 1, 1)


def bucket_bounds(name: str, unit: str, fiscal_start: int = 1) -> tuple[date, date] | None:
    """A bucket's name as reports write it (`2026-03-02`, `2026-03`, `2026-Q1`,
    `FY2026-Q1`, `2026`) -> its [first day, first day after); None if it does not parse."""
    match = _BUCKET.match(name)
    if match is None:
        return None
    year = int(match["year"])
    try:
        if unit in ("day", "week") and match["d"]:
            start = date(year, int(match["m"]), int(match["d"]))
            return start, start + timedelta(days=1 if unit == "day" else 7)
        if unit == "month" and match["m"] and not match["d"]:
            start = date(year, int(match["m"]), 1)
        elif unit == "quarter" and match["q"]:
            start = _month_start(year, fiscal_start - 1 + (int(match["q"]) - 1) * 3)
        elif unit == "year" and not (match["m"] or match["q"]):
            start = _month_start(year, fiscal_start - 1)
        else:
            return None
    except ValueError:
        return None
    end = _month_start(start.year, start.month - 1 + _MONTHS[unit])
    return start, end


def drill_criteria(report: ReportDef, entity: EntityDef, run_criteria: Any,
                   options: RunOptions, value: Any) -> Any | None:
    """The criteria tree of the records behind `value` of the report's first dimension
    (None: this report's points do not drill)."""
    parts: list[Any] = []
    if report.type in ("funnel", "time_in_stage"):
        state = next((f.name for f in entity.fields if f.type == "state"), None)
        if state is None:
            return None
        parts.append({"field": state, "op": "eq", "value": value})
    elif report.type == "summary" and report.dimensions:
        point = _point(report, entity, options, value)
        if point is None:
            return None
        parts.extend(point)
    else:
        return None
    if any("." in path for path in report.where):
        return None
    parts.extend({"field": path, "op": "in", "value": list(values)}
                 for path, values in report.where.items())
    if report.filter is not None:
        parts.append(report.filter)
    if run_criteria is not None:
        parts.append(run_criteria)
    return parts[0] if len(parts) == 1 else {"and": parts}


def _point(report: ReportDef, entity: EntityDef, options: RunOptions,
           value: Any) -> list[Any] | None:
    dimension = report.dimensions[0]
    if "." in dimension.path:
        return None
    if value is None:
        return [{"field": dimension.path, "op": "is_null", "value": True}]
    if dimension.bucket is None:
        return [{"field": dimension.path, "op": "eq", "value": value}]
    bounds = bucket_bounds(str(value), dimension.bucket, options.fiscal_start)
    if bounds is None:
        return None
    fdef = entity.field(dimension.path)
    is_datetime = fdef is None or fdef.type == "datetime"
    start, end = (options.bound(day, is_datetime=is_datetime) for day in bounds)
    return [{"field": dimension.path, "op": "gte", "value": start},
            {"field": dimension.path, "op": "lt", "value": end}]
