"""The dashboard service: which dashboards a user sees, and one run of all their widgets.

`services.dashboards`. A dashboard's filters (period, owner, team, time zone) are checked
once (422 naming the bad one) and then given to every widget's report as its run
parameters, over the report's defaults, over the dashboard's. Each widget runs through the
report service, so it counts only what the user may read; a widget whose report the user
may not run answers `status: "forbidden"` (or `"refused"` with the problem, e.g. a field
hidden from them) instead of failing the whole dashboard. A `number` widget also runs its
report over the previous period of the same length, for the comparison. A `trend` widget
draws the metric's grand total over the report's snapshots (`metacrm.reports.snapshots`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Forbidden, NotFound, ValidationFailed
from metacrm.metadata.compiler.dashboards import metric_columns
from metacrm.metadata.model import CompiledModel, DashboardDef, ReportDef, WidgetDef
from metacrm.reports.parameters import MONTHS
from metacrm.reports.result import ReportResult, ResultColumn
from metacrm.reports.run_options import RunOptions
from metacrm.reports.service import ReportService
from metacrm.reports.snapshots import ReportSnapshots

if TYPE_CHECKING:
    from metacrm.composition import Services

TAKEN_AT = "taken_at"
"""The dimension column of a trend widget's result: when each snapshot was taken."""
REPORT_CHARTS = {"column": "bar"}
"""A report's `chart` as a widget chart (the report schema knows a few more names)."""


def widget_chart(widget: WidgetDef, report: ReportDef) -> str:
    """The widget's chart: its own, else its report's, else a table."""
    chart = widget.chart or report.chart or "table"
    return REPORT_CHARTS.get(chart, chart)


def widget_metric(widget: WidgetDef, report: ReportDef) -> str | None:
    """The result column the widget draws: its own, else the report's first metric."""
    if widget.metric is not None:
        return widget.metric
    columns = metric_columns(report)
    return columns[0] if columns else None


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before [start, end): whole months step back by
    as many months (last quarter before this one), other spans by as many days."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if start.day == 1 and end.day == 1 and months in MONTHS.values():
        index = start.year * 12 + start.month - 1 - months
        return date(index // 12, index % 12 + 1, 1), start
    return start - (end - start), start


class DashboardService:
    """Dashboards of the live metadata, seen and run for one subject at a time."""

    def __init__(self, reports: ReportService,
                 snapshots: ReportSnapshots | None = None) -> None:
        self.reports = reports
        self.snapshots = snapshots

    def model(self) -> CompiledModel:
        return self.reports.model()

    def sees(self, subject: AccessSubject, dashboard: DashboardDef) -> bool:
        """Shared with everyone, or with one of the subject's roles, teams or their id;
        administrators see every dashboard."""
        shared = dashboard.shared_with
        if not shared or self.reports.records.runtime().policy.is_admin(subject):
            return True
        return (bool(set(shared.get("roles", ())) & set(subject.roles))
                or bool(set(shared.get("teams", ())) & set(subject.team_ids))
                or (subject.user_id is not None and subject.user_id in shared.get("users", ())))

    def definitions(self, subject: AccessSubject) -> list[DashboardDef]:
        """The dashboards the subject sees, by name."""
        return [d for _, d in sorted(self.model().dashboards.items()) if self.sees(subject, d)]

    def definition(self, subject: AccessSubject, name: str) -> DashboardDef:
        """A dashboard the subject sees; 404 otherwise (as if it did not exist)."""
        dashboard = self.model().dashboards.get(name)
        if dashboard is None or not self.sees(subject, dashboard):
            raise NotFound(f"there is no dashboard {name!r}")
        return dashboard

    def start_page(self, subject: AccessSubject) -> DashboardDef | None:
        """The subject's default dashboard: the first one they see offered as start page
        with at least one widget they may run (none: the start page lists the entities)."""
        reports = self.model().reports
        return next((d for d in self.definitions(subject) if d.start_page and any(
            (report := reports.get(w.report)) is not None
            and self.reports.readable(subject, report) for w in d.widgets)), None)

    def run(self, subject: AccessSubject, dashboard: DashboardDef,
            filters: Mapping[str, Any]) -> DashboardRun:
        """Every widget's result with the filters applied (ValidationFailed: bad filters)."""
        applied = {**dashboard.defaults, **filters}
        self.reports.options(subject, applied)
        return DashboardRun(dashboard, applied, [
            self.widget(subject, w, dashboard.defaults, filters) for w in dashboard.widgets])

    def widget(self, subject: AccessSubject, widget: WidgetDef,
               defaults: Mapping[str, Any], filters: Mapping[str, Any]) -> WidgetRun:
        """One widget's answer; its report runs with the run's filters over the report's
        defaults over the dashboard's (a "this quarter" forecast stays so unless the user
        picks a period)."""
        try:
            report = self.reports.definition(subject, widget.report)
        except NotFound:
            return WidgetRun(widget, None, widget.chart or "table", None, {}, "forbidden",
                             "you may not run this report")
        parameters = {**defaults, **report.defaults, **filters}
        run = WidgetRun(widget, report, widget_chart(widget, report),
                        widget_metric(widget, report), parameters)
        try:
            if run.chart == "trend":
                run.result = self._trend(subject, report, run.metric)
                return run
            run.result = self.reports.run(subject, report, parameters)
            if run.chart == "number":
                run.previous = self._previous(subject, report, parameters)
        except Forbidden as exc:
            run.status, run.detail, run.result = "forbidden", exc.message, None
        except ValidationFailed as exc:
            run.status, run.detail, run.result = "refused", exc.message, None
            run.errors = [{"detail": e.message, "pointer": e.pointer} for e in exc.errors]
        return run

    def _trend(self, subject: AccessSubject, report: ReportDef,
               metric: str | None) -> ReportResult:
        """The metric's grand total per snapshot, oldest first (Forbidden as the
        snapshots' read: `metacrm.reports.snapshots`). The dashboard filters do not apply:
        a snapshot is the report's result as it was taken."""
        if self.snapshots is None or metric is None:
            raise ValidationFailed("snapshots are not available here")
        taken = self.snapshots.list(subject, report.name)
        column = next((ResultColumn(c["name"], c["label"], c["role"], c["type"])
                       for s in taken for c in s["columns"] if c["name"] == metric),
                      ResultColumn(metric, {}, "metric", "number"))
        return ReportResult(
            [ResultColumn(TAKEN_AT, {"en": "Taken at", "ru": "Снимок"}, "dimension",
                          "datetime"), column],
            [{TAKEN_AT: s["taken_at"], metric: s["totals"].get(metric)} for s in taken])

    def options(self, subject: AccessSubject, parameters: Mapping[str, Any]) -> RunOptions:
        """A widget run's options (its period, owners, zone), for drill-down links."""
        return self.reports.options(subject, parameters)

    def _previous(self, subject: AccessSubject, report: ReportDef,
                  parameters: Mapping[str, Any]) -> dict[str, Any] | None:
        """The totals over the period before the run's (None: the run has no period)."""
        period = self.reports.options(subject, parameters).period
        if period is None:
            return None
        start, end = previous_period(*period)
        span = {"from": start.isoformat(), "to": (end - timedelta(days=1)).isoformat()}
        result = self.reports.run(subject, report, {**parameters, "period": span})
        return {"period": span, "totals": result.totals}


@dataclass(slots=True)
class WidgetRun:
    """One widget's outcome: `status` ok (with `result`), forbidden or refused."""

    widget: WidgetDef
    report: ReportDef | None
    chart: str
    metric: str | None
    parameters: Mapping[str, Any]
    status: str = "ok"
    detail: str | None = None
    result: ReportResult | None = None
    previous: dict[str, Any] | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        report = self.report
        label = dict(self.widget.label) or (dict(report.label) if report else {})
        out: dict[str, Any] = {"report": self.widget.report, "label": label,
                               "width": self.widget.width, "chart": self.chart,
                               "metric": self.metric, "status": self.status}
        if report is not None:
            out.update(entity=report.entity, type=report.type)
        if self.result is not None:
            out["result"] = self.result.to_json()
        if self.chart == "number" and self.status == "ok":
            out["previous"] = self.previous
        if self.detail is not None:
            out["detail"] = self.detail
        if self.errors:
            out["errors"] = self.errors
        return out


@dataclass(slots=True)
class DashboardRun:
    """A dashboard run: the filters applied and each widget's outcome, in order."""

    dashboard: DashboardDef
    filters: Mapping[str, Any]
    widgets: list[WidgetRun]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.dashboard.name, "filters": dict(self.filters),
                "widgets": [w.to_json() for w in self.widgets]}


def install(services: Services) -> None:
    """Make the dashboard service available as `services.dashboards`."""
    services.dashboards = DashboardService(services.reports, services.report_snapshots)
