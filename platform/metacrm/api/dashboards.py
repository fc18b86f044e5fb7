"""Dashboards over HTTP (docs/reports.md "Dashboards").

* `GET /api/v1/dashboards` -> `{"data": [...]}`: the dashboards the caller sees;
* `GET /api/v1/dashboards/<name>` -> `{"data": <dashboard>}` (404 for one the caller does
  not see, as for one that does not exist);
* `POST /api/v1/dashboards/<name>/run` with filters `{"period", "owner", "team",
  "time_zone"}` (all optional) -> `{"name", "filters", "widgets": [...]}`: each widget's
  report result run with the filters, or its `status` (`forbidden`, `refused`) when the
  caller may not run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import single_parameters
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import DashboardDef
from metacrm.reports.dashboards import DashboardService
from metacrm.reports.parameters import INVALID

dashboards_api = Blueprint("metacrm_dashboards", __name__,
                           url_prefix=f"{API_PREFIX}/dashboards")


def _service() -> DashboardService:
    return web_runtime().services.dashboards


def dashboard_summary(dashboard: DashboardDef) -> dict[str, Any]:
    return {"name": dashboard.name, "label": dict(dashboard.label),
            "description": dict(dashboard.description), "start_page": dashboard.start_page,
            "pack": dashboard.pack or None}


def dashboard_json(dashboard: DashboardDef) -> dict[str, Any]:
    return {**dashboard_summary(dashboard), "filters": list(dashboard.filters),
            "defaults": dict(dashboard.defaults), "columns": dashboard.columns,
            "shared_with": {k: list(v) for k, v in dashboard.shared_with.items()},
            "widgets": [{"report": w.report, "chart": w.chart or None, "metric": w.metric,
                         "label": dict(w.label), "width": w.width}
                        for w in dashboard.widgets]}


def _no_query() -> None:
    errors: list[ErrorDetail] = []
    single_parameters(request.args.items(multi=True), (), errors)
    if errors:
        raise ValidationFailed("invalid query parameters", errors)


@dashboards_api.get("")
def list_dashboards() -> Response:
    _, subject = request_subject()
    _no_query()
    return jsonify({"data": [dashboard_summary(d) for d in _service().definitions(subject)]})


@dashboards_api.get("/<name>")
def get_dashboard(name: str) -> Response:
    _, subject = request_subject()
    _no_query()
    return jsonify({"data": dashboard_json(_service().definition(subject, name))})


@dashboards_api.post("/<name>/run")
def run_dashboard(name: str) -> Response:
    _, subject = request_subject()
    _no_query()
    filters = json_body() if request.content_length else {}
    if not isinstance(filters, Mapping):
        raise ValidationFailed(INVALID, [ErrorDetail("must be an object", "")])
    service = _service()
    return jsonify(service.run(subject, service.definition(subject, name), filters).to_json())
