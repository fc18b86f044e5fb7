"""Drill-down criteria: the records behind one point of a report's chart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from metacrm.metadata.model import DimensionDef, EntityDef, FieldDef, ReportDef
from metacrm.reports.drill import bucket_bounds, drill_criteria
from metacrm.reports.run_options import RunOptions


@pytest.mark.parametrize(("name", "unit", "fiscal", "bounds"), [
    ("2026-03-02", "day", 1, (date(2026, 3, 2), date(2026, 3, 3))),
    ("2026-03-02", "week", 1, (date(2026, 3, 2), date(2026, 3, 9))),
    ("2026-12", "month", 1, (date(2026, 12, 1), date(2027, 1, 1))),
    ("2026-Q2", "quarter", 1, (date(2026, 4, 1), date(2026, 7, 1))),
    ("FY2025-Q4", "quarter", 4, (date(2026, 1, 1), date(2026, 4, 1))),
    ("FY2026", "year", 4, (date(2026, 4, 1), date(2027, 4, 1))),
    ("2026", "year", 1, (date(2026, 1, 1), date(2027, 1, 1))),
])
def test_bucket_names_read_back_as_their_days(name: str, unit: str, fiscal: int,
                                              bounds: tuple[date, date]) -> None:
    assert bucket_bounds(name, unit, fiscal) == bounds


@pytest.mark.parametrize(("name", "unit"), [("2026-13", "month"), ("2026-Q1", "month"),
                                            ("soon", "year"), ("2026-02-30", "day")])
def test_a_name_that_is_not_a_bucket_does_not_drill(name: str, unit: str) -> None:
    assert bucket_bounds(name, unit) is None


DEAL = EntityDef(name="deal", label={}, plural_label={}, table="deal", fields=(
    FieldDef(name="stage", type="state", label={}),
    FieldDef(name="close_date", type="date", label={})))


def test_a_point_drills_to_the_reports_records_with_its_value() -> None:
    report = ReportDef(name="r", label={}, entity="deal",
                       dimensions=(DimensionDef("stage"),), where={"stage": ("won", "lost")},
                       filter={"field": "title", "op": "contains", "value": "x"})
    run = {"field": "owner", "op": "in", "value": ["u1"]}

    assert drill_criteria(report, DEAL, run, RunOptions(), "won") == {"and": [
        {"field": "stage", "op": "eq", "value": "won"},
        {"field": "stage", "op": "in", "value": ["won", "lost"]},
        {"field": "title", "op": "contains", "value": "x"}, run]}
    assert drill_criteria(report, DEAL, None, RunOptions(), None) == {"and": [
        {"field": "stage", "op": "is_null", "value": True},
        {"field": "stage", "op": "in", "value": ["won", "lost"]},
        {"field": "title", "op": "contains", "value": "x"}]}


def test_a_bucket_drills_to_its_date_range_and_a_reference_path_needs_a_resolver() -> None:
    by_month = ReportDef(name="r", label={}, entity="deal",
                         dimensions=(DimensionDef("close_date", "month"),))
    through = ReportDef(name="r", label={}, entity="deal",
                        dimensions=(DimensionDef("company.industry"),))
    funnel = ReportDef(name="f", label={}, entity="deal", type="funnel")

    assert drill_criteria(by_month, DEAL, None, RunOptions(), "2026-02") == {"and": [
        {"field": "close_date", "op": "gte", "value": "2026-02-01"},
        {"field": "close_date", "op": "lt", "value": "2026-03-01"}]}
    assert drill_criteria(through, DEAL, None, RunOptions(), "tech") is None
    assert drill_criteria(funnel, DEAL, None, RunOptions(), "won") == {
        "field": "stage", "op": "eq", "value": "won"}


COMPANIES = {"c1": "tech", "c2": "tech", "c3": "retail"}
"""The companies the user may read, and their industry."""


def _resolve(path: str, values: Sequence[Any]) -> list[str] | None:
    assert path in ("company.industry", "company.region")
    if "crowded" in values:  # stands for more referenced records than a filter may list
        return None
    return sorted(c for c, industry in COMPANIES.items() if industry in values)


def test_a_point_through_a_reference_drills_to_the_referenced_records() -> None:
    through = ReportDef(name="r", label={}, entity="deal",
                        dimensions=(DimensionDef("company.industry"),),
                        where={"company.industry": ("tech", "retail"), "stage": ("won",)})

    def drill(value: Any) -> Any:
        return drill_criteria(through, DEAL, None, RunOptions(), value, _resolve)

    assert drill("tech") == {"and": [
        {"field": "company", "op": "in", "value": ["c1", "c2"]},
        {"field": "company", "op": "in", "value": ["c1", "c2", "c3"]},
        {"field": "stage", "op": "in", "value": ["won"]}]}
    assert drill("mining") is None      # no readable company has it: nothing to list
    assert drill(None) is None          # the empty group: no reference, or an unreadable one
    assert drill("crowded") is None     # too many companies for one filter
