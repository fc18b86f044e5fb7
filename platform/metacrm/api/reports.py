"""Reports over HTTP (docs/reports.md, docs/api.md "Reports").

* `GET /api/v1/reports` -> `{"data": [...]}`: the reports over entities the caller may read;
* `GET /api/v1/reports/<name>` -> `{"data": <report>}` (404 for a report the caller may not
  run, as for one that does not exist);
* `POST /api/v1/reports/<name>/run` with parameters `{"period", "owner", "team",
  "time_zone", "as_of"}` (all optional; `as_of` a past date-time: the records as they
  stood then) -> `{"columns", "rows", "totals", "subtotals"}`;
* `GET /api/v1/reports/<name>/snapshots` -> `{"data": [{"taken_at", "columns", "rows",
  "totals"}...]}`: the report's scheduled snapshots (403 unless the caller reads every
  record of its entity);
* `POST /api/v1/reports/run` with `{"report": <report document>, "parameters": {...}}`:
  an ad-hoc report, validated by the same schema and checks as a stored one.

`?format=csv` or `?format=xlsx` answers the whole result as a streamed file instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import single_parameters
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import ReportDef
from metacrm.reports.definition_json import report_json, summary_json
from metacrm.reports.export import XLSX_MIMETYPE
from metacrm.reports.parameters import INVALID
from metacrm.reports.service import ReportService

reports_api = Blueprint("metacrm_reports", __name__, url_prefix=f"{API_PREFIX}/reports")

FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "xlsx": XLSX_MIMETYPE}


def _service() -> ReportService:
    return web_runtime().services.reports


@reports_api.get("")
def list_reports() -> Response:
    _, subject = request_subject()
    _format(request.args.items(multi=True), allowed=())
    return jsonify({"data": [summary_json(r) for r in _service().definitions(subject)]})


@reports_api.get("/<name>")
def get_report(name: str) -> Response:
    _, subject = request_subject()
    _format(request.args.items(multi=True), allowed=())
    return jsonify({"data": report_json(_service().definition(subject, name))})


@reports_api.post("/<name>/run")
def run_report(name: str) -> Response:
    _, subject = request_subject()
    file_format = _format(request.args.items(multi=True))
    parameters = _parameters(json_body() if request.content_length else {})
    return _answer(subject, _service().definition(subject, name), parameters, file_format)


@reports_api.get("/<name>/snapshots")
def report_snapshots(name: str) -> Response:
    """The report's stored snapshots, oldest first (403 when they are out of the caller's
    sight: `metacrm.reports.snapshots`)."""
    _, subject = request_subject()
    _format(request.args.items(multi=True), allowed=())
    snapshots = web_runtime().services.report_snapshots
    return jsonify({"data": snapshots.list(subject, name)})


@reports_api.post("/run")
def run_adhoc() -> Response:
    _, subject = request_subject()
    file_format = _format(request.args.items(multi=True))
    body = json_body()
    if not isinstance(body, Mapping) or "report" not in body or set(body) - {
            "report", "parameters"}:
        raise ValidationFailed("invalid request", [ErrorDetail(
            'must be {"report": <report document>, "parameters": {...}}', "")])
    try:
        report = _service().compile(body["report"])
        return _answer(subject, report, _parameters(body.get("parameters") or {}),
                       file_format)
    except ValidationFailed as exc:
        prefix = "/parameters" if exc.message == INVALID else "/report"
        raise ValidationFailed(exc.message, [
            ErrorDetail(e.message, f"{prefix}{e.pointer}") for e in exc.errors]) from exc


def _answer(subject: Any, report: ReportDef, parameters: Mapping[str, Any],
            file_format: str) -> Response:
    service = _service()
    if file_format == "json":
        return jsonify(service.run(subject, report, parameters).to_json())
    stream = service.export(subject, report, parameters, file_format)
    response = Response(stream, mimetype=FORMATS[file_format])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{report.name}.{file_format}"')
    return response


def _parameters(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationFailed(INVALID, [ErrorDetail("must be an object", "")])
    return raw


def _format(pairs: Iterable[tuple[str, str]], allowed: Iterable[str] = ("format",)) -> str:
    errors: list[ErrorDetail] = []
    values = single_parameters(pairs, tuple(allowed), errors)
    file_format = values.get("format", "json")
    if file_format not in FORMATS:
        errors.append(ErrorDetail("must be json, csv or xlsx", "/format"))
    if errors:
        raise ValidationFailed("invalid query parameters", errors)
    return file_format
