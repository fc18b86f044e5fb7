"""Drill-down: the criteria of the records behind one bar or slice of a report's chart.

A chart point is a value of the report's first dimension; the records behind it are those
the report counted — its `filter` and `where`, the run's filters (period, owner, team) —
whose dimension holds that value (a date bucket: a date in the bucket's range; funnels and
times in stage: the records in that state now). The list view takes the tree as its
`filter` parameter (`web/list_query.py`), checked there against what the user may see.

A dimension or `where` path through a reference (`company.industry`) drills through the
reference: `resolve(path, values)` (the report service, within the user's rights) names
the referenced records the user may read whose field holds one of the values, and the tree
says `{"field": "company", "op": "in", "value": [their ids]}` — the records the report
grouped under that value. The criteria language has no path condition; naming the ids keeps
the list view's filter a plain tree over the entity, which every read path already checks.
Up to `MAX_LIST_VALUES` referenced records; beyond that, or for the empty value (no
reference, or one the user may not read), the point does not drill.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from metacrm.metadata.model import EntityDef, ReportDef
from metacrm.reports.run_options import RunOptions

_BUCKET = re.compile(r"^(?P<fy>FY)?(?P<year>\d{4})(?:-(?:Q(?P<q>[1-4])|(?P<m>\d{2})"
                     r"(?:-(?P<d>\d{2}))?))?$")
_MONTHS = {"year": 12, "quarter": 3, "month": 1}

Resolve = Callable[[str, Sequence[Any]], "list[str] | None"]
"""(path through a reference, values) -> the ids of the referenced records the user may
read whose field holds one of the values (None: too many, or the path cannot be read)."""


def _no_resolver(path: str, values: Sequence[Any]) -> list[str] | None:
    return None


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
                   options: RunOptions, value: Any, resolve: Resolve = _no_resolver
                   ) -> Any | None:
    """The criteria tree of the records behind `value` of the report's first dimension
    (None: this report's points do not drill)."""
    parts: list[Any] = []
    if report.type in ("funnel", "time_in_stage"):
        state = next((f.name for f in entity.fields if f.type == "state"), None)
        if state is None:
            return None
        parts.append({"field": state, "op": "eq", "value": value})
    elif report.type == "summary" and report.dimensions:
        point = _point(report, entity, options, value, resolve)
        if point is None:
            return None
        parts.extend(point)
    else:
        return None
    for path, values in report.where.items():
        condition = _in(path, list(values), resolve)
        if condition is None:
            return None
        parts.append(condition)
    if report.filter is not None:
        parts.append(report.filter)
    if run_criteria is not None:
        parts.append(run_criteria)
    return parts[0] if len(parts) == 1 else {"and": parts}


def _in(path: str, values: list[Any], resolve: Resolve) -> Any | None:
    """`path` holds one of `values`, through its reference when it has one."""
    if "." not in path:
        return {"field": path, "op": "in", "value": values}
    ids = resolve(path, values)
    if not ids:
        return None
    return {"field": path.partition(".")[0], "op": "in", "value": ids}


def _point(report: ReportDef, entity: EntityDef, options: RunOptions,
           value: Any, resolve: Resolve) -> list[Any] | None:
    dimension = report.dimensions[0]
    if "." in dimension.path:
        if value is None or dimension.bucket is not None:
            return None
        condition = _in(dimension.path, [value], resolve)
        return None if condition is None else [condition]
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
