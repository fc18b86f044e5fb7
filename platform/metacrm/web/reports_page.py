"""The reports screens: `/app/reports` (the reports the user may run) and
`/app/reports/<name>` (one report run as the user: a table with subtotals and the grand
total, and a bar per row for a summary's first metric).

The same service as `POST /api/v1/reports/<name>/run` (`metacrm.reports`): counts and sums
only what the user may read; dimension values read as the list shows them (choice and state
labels, record titles, user names). The period filter is the `period` query parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Response, abort, render_template, request

from metacrm.metadata.model import CompiledModel, ReportDef
from metacrm.reports.export import XLSX_MIMETYPE
from metacrm.reports.parameters import NAMED_PERIODS
from metacrm.reports.private_reports import PrivateReports
from metacrm.reports.result import ReportResult, ResultColumn
from metacrm.reports.service import ReportService
from metacrm.reports.summary import dimension_name
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import format_number, label, t
from metacrm.web.values import ValueDisplay, record_reader

web_reports = screen_blueprint("web_reports", __name__, url_prefix="/app/reports")

PERIOD_LABELS = {"": "All time", "this_month": "This month", "last_month": "Last month",
                 "this_quarter": "This quarter", "last_quarter": "Last quarter",
                 "this_year": "This year", "last_year": "Last year"}


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool


@dataclass(frozen=True)
class Row:
    cells: list[Cell]
    kind: str = "row"


CHART_TYPES = {"bar": ("bar", {}), "column": ("bar", {}), "stacked_bar": ("bar", {}),
               "line": ("line", {}), "area": ("line", {"fill": True}),
               "pie": ("pie", {}), "donut": ("doughnut", {}),
               "funnel": ("bar", {"horizontal": True})}
"""Report chart -> Chart.js type and options (`ui/static/reports.js`); table and number
show no chart."""


def _service() -> ReportService:
    return services().services.reports


@web_reports.get("")
@login_required
def index() -> str:
    subject = web_subject()
    reports = _service().definitions(subject)
    mine = PrivateReports(_service()).list(subject)
    return render_template("metacrm/reports.html", reports=[
        {"name": r.name, "label": label(r.label, r.name),
         "description": label(r.description, "")} for r in reports],
        mine=[{"id": r.id, "label": r.label} for r in mine])


@web_reports.get("/<name>")
@login_required
def page(name: str) -> str:
    service = _service()
    subject = web_subject()
    report = service.definition(subject, name)
    period = request.args.get("period", "")
    result = service.run(subject, report, _parameters())
    table = ReportTable(service.model(), report, result, record_reader(subject))
    return render_template(
        "metacrm/report.html", report=report, title=label(report.label, report.name),
        headers=table.headers(), rows=table.rows(), chart=table.chart(), period=period,
        periods=[(key, t(text)) for key, text in PERIOD_LABELS.items()])


def as_decimal(value: Any) -> Decimal | None:
    """A result value as a number (None: not a number)."""
    if value is None or isinstance(value, bool | Mapping):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class ReportTable:
    """A result as the page shows it: headers, rows with text cells, bar widths."""

    def __init__(self, model: CompiledModel, report: ReportDef, result: ReportResult,
                 fetch: Any) -> None:
        self.model = model
        self.report = report
        self.result = result
        self.display = ValueDisplay(model, fetch=fetch)
        self.columns = [c for c in result.columns if c.name != "id"]
        metrics = [c for c in self.columns if c.role == "metric"]
        self.bar_metric = metrics[0].name if metrics and report.type in (
            "summary", "funnel") and result.column_values is None else None
        self.dims = [c.name for c in self.columns if c.role == "dimension"]
        self.across = list(result.column_values or ())
        """A matrix's column values: one column each (its first metric), after the rows'
        dimensions and before their totals per metric."""
        self.first_metric = metrics[0].name if metrics else ""

    def headers(self) -> list[str]:
        names = [label(c.label, c.name.replace("_", " ")) for c in self.columns]
        if not self.across:
            return names
        paths = self.paths()
        across = ResultColumn(dimension_name(self.report.columns[0]), {}, "dimension",
                              "text")
        width = len(self.dims)
        return [*names[:width], *(self.text(across, value, paths).text
                                  for value in self.across), *names[width:]]

    def paths(self) -> dict[str, str]:
        """Result column -> the field path it shows (for value labels)."""
        paths = {d.path.replace(".", "_"): d.path for d in self.report.dimensions
                 if d.bucket is None}
        paths.update({d.path.replace(".", "_"): d.path for d in self.report.columns
                      if d.bucket is None})
        if self.report.type in ("funnel", "time_in_stage"):
            state = next((f.name for f in self._entity().fields if f.type == "state"), None)
            if state:
                paths["state"] = state
        return paths

    def _entity(self) -> Any:
        return self.model.entities[self.report.entity]

    def text(self, column: ResultColumn, value: Any, paths: Mapping[str, str]) -> Cell:
        if value is None:
            return Cell("—" if column.role == "dimension" else "", column.role == "metric")
        if column.role == "metric" or column.type in ("number", "ratio", "hours"):
            number = as_decimal(value)
            if column.type == "ratio" and number is not None:
                return Cell(f"{format_number(number * 100)} %", True)
            return Cell(format_number(number) if number is not None else str(value), True)
        path = paths.get(column.name)
        if path is None:
            return Cell(str(value), False)
        head, _, tail = path.partition(".")
        entity = self._entity()
        if tail:
            ref = entity.field(head)
            entity = self.model.entities.get(ref.target_entity or "") if ref else None
            if entity is None:
                return Cell(str(value), False)
            head = tail
        if head in ("owner", "created_by", "updated_by") or (
                (f := entity.field(head)) is not None and f.type == "user"):
            self.display.load_users(services().engine, {str(value)})
        return Cell(self.display.text(entity, head, {head: value}), False)

    def rows(self) -> list[Row]:
        paths = self.paths()
        out = [Row(self._matrix([self.text(c, self.value_of(row, c), paths)
                                 for c in self.columns], row))
               for row in self.result.rows]
        out.extend(self._totals(paths))
        return out

    def _matrix(self, cells: list[Cell], row: Mapping[str, Any] | None) -> list[Cell]:
        """A matrix row's cells with its value per column value put in after its
        dimensions (none for the totals row)."""
        if not self.across:
            return cells
        metric = next(c for c in self.columns if c.name == self.first_metric)
        by_value = row.get("cells", {}) if row is not None else {}
        across = [self.text(metric, (by_value.get(str(value)) or {}).get(metric.name), {})
                  if row is not None else Cell("", True) for value in self.across]
        width = len(self.dims)
        return [*cells[:width], *across, *cells[width:]]

    def chart(self) -> dict[str, Any] | None:
        """What `reports.js` draws: the rows' dimension texts as labels and the first
        metric as the values (None: the report shows no chart)."""
        kind = CHART_TYPES.get(self.report.chart or "bar" if self.bar_metric else "")
        if kind is None or not self.bar_metric or not self.result.rows:
            return None
        paths = self.paths()
        dims = [c for c in self.columns if c.role == "dimension"]
        metric = next(c for c in self.columns if c.name == self.bar_metric)
        labels = [" · ".join(self.text(c, row.get(c.name), paths).text for c in dims)
                  for row in self.result.rows]
        values = [float(v) if (v := as_decimal(row.get(self.bar_metric))) is not None
                  else None for row in self.result.rows]
        chart_type, options = kind
        return {"type": chart_type, "labels": labels, "values": values,
                "label": label(metric.label, metric.name.replace("_", " ")), **options}

    def value_of(self, row: Mapping[str, Any], column: ResultColumn) -> Any:
        if self.result.column_values is not None and column.role == "metric":
            return (row.get("total") or {}).get(column.name)
        return row.get(column.name)

    def _totals(self, paths: Mapping[str, str]) -> Sequence[Row]:
        totals = self.result.totals
        if not totals or any(isinstance(v, Mapping) for v in totals.values()):
            return []
        cells = [Cell(t("Total"), False) if index == 0 and column.role == "dimension"
                 else self.text(column, totals.get(column.name), paths)
                 if column.role == "metric" else Cell("", False)
                 for index, column in enumerate(self.columns)]
        return [Row(self._matrix(cells, None), "total")]


@web_reports.get("/<name>/export")
@login_required
def export(name: str) -> Response:
    """The whole result as a CSV or XLSX file (`format`), streamed."""
    file_format = requested_file_format()
    service = _service()
    subject = web_subject()
    report = service.definition(subject, name)
    return report_file(service.export(subject, report, _parameters(), file_format),
                       file_format, report.name)


def requested_file_format() -> str:
    """`csv` or `xlsx` from the `format` argument (csv by default); 404 for another."""
    file_format = request.args.get("format", "csv")
    if file_format not in ("csv", "xlsx"):
        abort(404)
    return file_format


def report_file(stream: Iterable[Any], file_format: str, name: str) -> Response:
    """A report's result streamed as the attachment `<name>.<file_format>`."""
    response = Response(stream, mimetype="text/csv" if file_format == "csv"
                        else XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{file_format}"'
    return response


def _parameters() -> dict[str, str]:
    period = request.args.get("period", "")
    return {"period": period} if period in NAMED_PERIODS else {}
