"""OpenAPI paths and schemas of the dashboards (`metacrm.api.dashboards`, docs/reports.md)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import BODY_ERRORS, errors, json_answer, json_body
from metacrm.api.openapi_reports import report_schemas
from metacrm.api.openapi_schemas import ref

Schema = dict[str, Any]
DASHBOARDS = "/api/v1/dashboards"
DASHBOARDS_TAG = {"name": "dashboards",
                  "description": "Grids of report widgets the caller sees, run with "
                                 "dashboard-wide filters (period, owner, team)."}
_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 40}}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_CHARTS = ["table", "bar", "stacked_bar", "line", "area", "pie", "donut", "funnel", "number"]


def _filters_schema() -> Schema:
    """The report run parameters, where `null` also stands for "any" (all time, every
    owner, every team), overriding the defaults."""
    parameters = report_schemas()["ReportParameters"]
    shared = {name: schema for name, schema in parameters["properties"].items()
              if name != "as_of"}  # a dashboard shows today's figures
    properties = {name: ({"oneOf": [*schema["oneOf"], {"type": "null"}]} if "oneOf" in schema
                         else {**schema, "type": [schema["type"], "null"]})
                  for name, schema in shared.items() if name != "time_zone"}
    return {**parameters, "properties": {**shared, **properties}}


def dashboard_schemas() -> dict[str, Schema]:
    summary = {"name": {"type": "string"}, "label": _LABELS, "description": _LABELS,
               "start_page": {"type": "boolean"}, "pack": {"type": ["string", "null"]}}
    names = {"type": "array", "items": {"type": "string"}}
    return {
        "DashboardFilters": _filters_schema(),
        "DashboardSummary": {"type": "object",
                             "required": ["name", "label", "description", "start_page"],
                             "properties": summary},
        "Dashboard": {
            "type": "object",
            "required": ["name", "label", "filters", "defaults", "columns", "widgets"],
            "properties": {
                **summary,
                "filters": {"type": "array", "items": {"enum": ["period", "owner", "team"]}},
                "defaults": {"type": "object"},
                "columns": {"type": "integer", "minimum": 1, "maximum": 4},
                "shared_with": {"type": "object", "properties": {
                    "roles": names, "teams": names, "users": names}},
                "widgets": {"type": "array", "items": {
                    "type": "object", "required": ["report", "width"],
                    "properties": {"report": {"type": "string"},
                                   "chart": {"enum": [*_CHARTS, None]},
                                   "metric": {"type": ["string", "null"]},
                                   "label": _LABELS, "width": {"type": "integer"}}}},
            },
        },
        "DashboardRun": {
            "type": "object",
            "required": ["name", "filters", "widgets"],
            "properties": {
                "name": {"type": "string"},
                "filters": {"type": "object",
                            "description": "The filters applied (the run's over the "
                                           "dashboard's defaults)."},
                "widgets": {"type": "array", "items": {
                    "type": "object", "required": ["report", "status", "chart", "label"],
                    "properties": {
                        "report": {"type": "string"},
                        "status": {"enum": ["ok", "forbidden", "refused"],
                                   "description": "ok: `result` holds the report's "
                                                  "result; forbidden: the caller may not "
                                                  "run the report; refused: the run was "
                                                  "refused (`errors`)."},
                        "chart": {"type": "string"},
                        "label": _LABELS,
                        "width": {"type": "integer"},
                        "metric": {"type": ["string", "null"]},
                        "entity": {"type": "string"},
                        "type": {"type": "string"},
                        "result": ref("ReportResult"),
                        "previous": {
                            "type": ["object", "null"],
                            "description": "`number` widgets: the totals over the "
                                           "previous period of the same length.",
                            "properties": {"period": {"type": "object"},
                                           "totals": {"type": "object"}}},
                        "detail": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    }}},
            },
        },
    }


def dashboard_paths() -> dict[str, Any]:
    tag = {"tags": ["dashboards"]}
    return {
        DASHBOARDS: {"get": {
            **tag, "operationId": "list_dashboards",
            "summary": "The dashboards the caller sees",
            "responses": {"200": json_answer("The dashboards, by name.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "array",
                                        "items": ref("DashboardSummary")}}}),
                **errors("401", "422", "429")},
        }},
        f"{DASHBOARDS}/{{name}}": {"get": {
            **tag, "operationId": "get_dashboard", "summary": "One dashboard document",
            "parameters": [_NAME],
            "responses": {"200": json_answer("The dashboard.", {
                "type": "object", "required": ["data"],
                "properties": {"data": ref("Dashboard")}}),
                **errors("401", "404", "422", "429")},
        }},
        f"{DASHBOARDS}/{{name}}/run": {"post": {
            **tag, "operationId": "run_dashboard",
            "summary": "Run every widget with the dashboard filters (period, owner, team)",
            "parameters": [_NAME],
            "requestBody": {**json_body(ref("DashboardFilters")), "required": False},
            "responses": {"200": json_answer("Each widget's result or status.",
                                             ref("DashboardRun")),
                          **errors(*BODY_ERRORS, "401", "404", "422", "429")},
        }},
    }
