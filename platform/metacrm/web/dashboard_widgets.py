"""A dashboard widget's run as the screen shows it: a chart spec for `dashboards.js` (with
a drill-down link per point), a KPI number with its change, or a table.

Values read as the report page shows them (`reports_page.ReportTable`: choice and state
labels, record titles, user names); drill-down links open the entity's list view with the
criteria of the records behind the point (`metacrm.reports.drill`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from metacrm.access.subject import AccessSubject
from metacrm.metadata.model import CompiledModel
from metacrm.reports.dashboards import TAKEN_AT, DashboardService, WidgetRun
from metacrm.reports.drill import drill_criteria
from metacrm.reports.result import ResultColumn
from metacrm.web.i18n import format_number, label, t
from metacrm.web.reports_page import ReportTable, Row, as_decimal
from metacrm.web.values import record_reader

CHART_TYPES: Mapping[str, tuple[str, dict[str, Any]]] = {
    "bar": ("bar", {}), "stacked_bar": ("bar", {"stacked": True}), "line": ("line", {}),
    "area": ("line", {"fill": True}), "pie": ("pie", {}), "donut": ("doughnut", {}),
    "funnel": ("bar", {"horizontal": True}), "trend": ("line", {})}
"""Widget chart -> Chart.js type and options (`ui/static/dashboards.js`)."""


@dataclass
class Point:
    """One bar or slice: its label, value text and drill-down link (None: no drill)."""

    label: str
    value: str
    link: str | None


@dataclass
class WidgetView:
    title: str
    name: str
    chart: str
    width: int
    status: str
    message: str = ""
    number: str = ""
    change: str = ""
    trend: str = ""
    spec: dict[str, Any] | None = None
    points: list[Point] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def _percent_change(now: Decimal | None, before: Decimal | None) -> tuple[str, str]:
    if now is None or before is None:
        return "", ""
    if before == 0:
        return (t("no previous value"), "") if now else ("±0 %", "flat")
    change = (now - before) / abs(before) * 100
    sign = "+" if change > 0 else ""
    trend = "up" if change > 0 else "down" if change < 0 else "flat"
    return f"{sign}{format_number(change.quantize(Decimal('0.1')))} %", trend


class WidgetPresenter:
    """Builds the widgets' views of one dashboard run for one user."""

    def __init__(self, service: DashboardService, model: CompiledModel,
                 subject: AccessSubject) -> None:
        self.service, self.model, self.subject = service, model, subject
        self.fetch = record_reader(subject)

    def view(self, run: WidgetRun, index: int) -> WidgetView:
        report = run.report
        title = label(run.widget.label, "") or (label(report.label, report.name) if report
                                                else run.widget.report)
        view = WidgetView(title, f"{index}-{run.widget.report}", run.chart,
                          run.widget.width, run.status)
        if run.status == "forbidden":
            view.message = t("You may not run this report.")
            return view
        if run.status == "refused" or report is None or run.result is None:
            view.message = t("This report cannot run for you: %(detail)s",
                             detail=run.detail or "")
            return view
        if run.chart == "trend":  # snapshots: no drill-down, the taken-at date as label
            self._trend(view, run)
            return view
        table = ReportTable(self.model, report, run.result, self.fetch)
        if run.chart == "number":
            self._number(view, run, table)
        elif run.chart in CHART_TYPES and run.metric:
            self._chart(view, run, table)
        if not view.spec and run.chart != "number":
            view.headers, view.rows = table.headers(), table.rows()
        return view

    def _metric_column(self, run: WidgetRun, table: ReportTable) -> ResultColumn | None:
        return next((c for c in table.columns if c.name == run.metric), None)

    def _number(self, view: WidgetView, run: WidgetRun, table: ReportTable) -> None:
        column = self._metric_column(run, table)
        assert run.result is not None
        now = run.result.totals.get(run.metric or "")
        if column is None or isinstance(now, Mapping):
            view.message = t("Nothing to show for this period.")
            return
        view.number = table.text(column, now if now is not None else 0, {}).text
        if run.previous is not None:
            before = run.previous["totals"].get(run.metric or "")
            view.change, view.trend = _percent_change(as_decimal(now or 0),
                                                      as_decimal(before or 0))

    def _chart(self, view: WidgetView, run: WidgetRun, table: ReportTable) -> None:
        assert run.result is not None and run.report is not None
        column = self._metric_column(run, table)
        dims = [c for c in table.columns if c.role == "dimension"]
        rows = list(run.result.rows)
        if column is None or not dims or not rows:
            return
        paths = table.paths()
        links = self._links(run, dims[0], rows)
        view.points = [
            Point(" · ".join(table.text(c, row.get(c.name), paths).text for c in dims),
                  table.text(column, table.value_of(row, column), paths).text, link)
            for row, link in zip(rows, links, strict=True)]
        values = [float(v) if (v := as_decimal(table.value_of(row, column))) is not None
                  else None for row in rows]  # a matrix's: its row totals
        if column.type == "ratio":
            values = [v * 100 if v is not None else None for v in values]
        chart_type, options = CHART_TYPES[run.chart]
        view.spec = {"type": chart_type, "labels": [p.label for p in view.points],
                     "values": values, "links": links,
                     "label": label(column.label, column.name.replace("_", " ")), **options}

    def _trend(self, view: WidgetView, run: WidgetRun) -> None:
        assert run.result is not None
        rows = list(run.result.rows)
        column = run.result.columns[-1]
        if not rows:
            view.message = t("No snapshots yet.")
            return
        values = [as_decimal(row.get(column.name)) for row in rows]
        view.points = [Point(str(row.get(TAKEN_AT, ""))[:10],
                             format_number(v) if v is not None else "", None)
                       for row, v in zip(rows, values, strict=True)]
        view.spec = {"type": "line", "labels": [p.label for p in view.points],
                     "values": [float(v) if v is not None else None for v in values],
                     "links": [None] * len(rows),
                     "label": label(column.label, column.name.replace("_", " "))}

    def _links(self, run: WidgetRun, dimension: ResultColumn,
               rows: list[Mapping[str, Any]]) -> list[str | None]:
        report = run.report
        assert report is not None
        entity = self.model.entities.get(report.entity)
        if entity is None:
            return [None] * len(rows)
        options = self.service.options(self.subject, run.parameters)
        run_criteria = self.service.reports.run_criteria(report, entity, options)
        links: list[str | None] = []

        def resolve(path: str, values: Sequence[Any]) -> list[str] | None:
            return self.service.reports.referenced_ids(self.subject, entity, path, values)

        for row in rows:
            tree = drill_criteria(report, entity, run_criteria, options, row.get(dimension.name),
                                  resolve)
            links.append(None if tree is None else f"/app/r/{entity.name}?" + urlencode(
                {"custom": "1", "filter": json.dumps(tree, ensure_ascii=False)}))
        return links
