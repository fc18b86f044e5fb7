"""Compile dashboard documents: widgets naming reports, sharing, filters.

The checks are structural: every widget's report exists, its `metric` is a result column of
that report, the roles it is shared with exist. Who may see a dashboard and which widgets
they may run is decided at run time (`metacrm.reports.dashboards`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from metacrm.metadata.compiler.context import CompileContext, suggestion
from metacrm.metadata.compiler.freeze import labels
from metacrm.metadata.documents import Document
from metacrm.metadata.model import DashboardDef, ReportDef, SourceRef, WidgetDef

ALL_FILTERS = ("period", "owner", "team")
KIND_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "funnel": ("entered", "conversion", "drop_off", "from_first"),
    "time_in_stage": ("stays", "average_hours", "median_hours"),
    "forecast": ("count", "amount", "weighted_amount"),
})
"""The metric columns of the report kinds whose columns are not the document's metrics."""


def _widget(raw: Mapping[str, Any]) -> WidgetDef:
    return WidgetDef(report=str(raw["report"]), chart=str(raw.get("chart") or ""),
                     metric=raw.get("metric"), label=labels(raw.get("label")),
                     width=int(raw.get("width") or 1))


def build_dashboard(document: Document) -> DashboardDef:
    body = document.body
    shared = body.get("shared_with") or {}
    return DashboardDef(
        name=document.name,
        label=labels(body.get("label")),
        description=labels(body.get("description")),
        widgets=tuple(_widget(raw) for raw in body.get("widgets") or ()),
        shared_with=MappingProxyType({str(k): tuple(str(v) for v in values)
                                      for k, values in shared.items()}),
        start_page=bool(body.get("start_page", False)),
        filters=tuple(body.get("filters") or ALL_FILTERS),
        defaults=MappingProxyType(dict(body.get("defaults") or {})),
        columns=int(body.get("columns") or 2),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def metric_columns(report: ReportDef) -> tuple[str, ...]:
    """The result columns a widget may draw or show as its number, first the default."""
    if report.type in KIND_COLUMNS:
        return KIND_COLUMNS[report.type]
    return tuple(str(m["name"]) for m in report.metrics)


def check_dashboard(dashboard: DashboardDef, reports: Mapping[str, ReportDef],
                    context: CompileContext) -> None:
    report = context.reporter(dashboard.source.file)
    context.check_roles(dashboard.shared_with.get("roles", ()), report, "/shared_with/roles")
    for index, widget in enumerate(dashboard.widgets):
        pointer = f"/widgets/{index}"
        target = reports.get(widget.report)
        if target is None:
            report.missing(f"unknown report '{widget.report}'" + suggestion(
                widget.report, reports), f"{pointer}/report")
            continue
        if target.type == "list" and widget.chart not in ("", "table"):
            report.error("a list report shows as a table", f"{pointer}/chart")
        if widget.chart == "trend" and target.snapshot is None:
            report.error(f"a trend draws snapshots; report '{target.name}' declares no "
                         "\"snapshot\"", f"{pointer}/chart")
        columns = metric_columns(target)
        if widget.metric is not None and widget.metric not in columns:
            report.error(f"'{widget.metric}' is not a metric of report '{target.name}'"
                         + suggestion(widget.metric, columns), f"{pointer}/metric")
