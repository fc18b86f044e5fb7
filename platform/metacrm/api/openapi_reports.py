"""OpenAPI paths and schemas of the reports (`metacrm.api.reports`, docs/reports.md)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import BODY_ERRORS, errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.reports.export import XLSX_MIMETYPE
from metacrm.reports.parameters import NAMED_PERIODS

Schema = dict[str, Any]
REPORTS = "/api/v1/reports"
REPORTS_TAG = {"name": "reports",
               "description": "Reports of the metadata and ad-hoc ones, within the caller's "
                              "rights: summary, matrix, funnel, time in stage, forecast, list."}
_DATE = {"type": "string", "format": "date"}
_FORMAT = {"name": "format", "in": "query", "required": False,
           "description": "`csv` or `xlsx`: the whole result as a streamed file.",
           "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]}}
_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 40}}


def report_schemas() -> dict[str, Schema]:
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "ReportSummary": {
            "type": "object",
            "required": ["name", "label", "type", "entity"],
            "properties": {"name": {"type": "string"}, "label": labels,
                           "description": labels, "type": {"type": "string"},
                           "entity": {"type": "string"},
                           "chart": {"type": ["string", "null"]},
                           "pack": {"type": ["string", "null"]}},
        },
        "ReportDocument": {
            "type": "object",
            "description": "A report document as `schemas/report.schema.json` defines it "
                           "(`kind`, `name`, `version` and `label` may be left out of an "
                           "ad-hoc one).",
            "required": ["entity"],
            "properties": {"entity": {"type": "string"}},
        },
        "ReportParameters": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "period": {"oneOf": [
                    {"type": "string", "enum": list(NAMED_PERIODS)},
                    {"type": "object", "required": ["from", "to"],
                     "additionalProperties": False,
                     "properties": {"from": _DATE, "to": _DATE}}]},
                "owner": {"type": "string", "minLength": 1, "maxLength": 255,
                          "description": "A user id, or `$user` (the caller)."},
                "team": {"type": "string", "minLength": 1, "maxLength": 64,
                         "description": "A team name: its members and its sub-teams'."},
                "time_zone": {"type": "string", "description": "An IANA time zone "
                              "(default: the caller's preference, else UTC)."},
                "as_of": {"type": "string", "format": "date-time",
                          "description": "Run a summary, matrix or list report over the "
                          "records as they stood at this past instant (with its offset), "
                          "rebuilt from the audit trail, under the caller's current rights "
                          "(docs/reports.md, \"As of\" runs)."},
            },
        },
        "ReportSnapshot": {
            "type": "object",
            "required": ["taken_at", "columns", "rows", "totals"],
            "description": "The report's result at one slot of its `snapshot.schedule`.",
            "properties": {"taken_at": {"type": "string", "format": "date-time"},
                           "columns": {"type": "array", "items": {"type": "object"}},
                           "rows": {"type": "array", "items": {"type": "object"}},
                           "totals": {"type": "object"}},
        },
        "ReportResult": {
            "type": "object",
            "required": ["columns", "rows", "totals", "subtotals"],
            "properties": {
                "columns": {"type": "array", "items": {
                    "type": "object", "required": ["name", "label", "role", "type"],
                    "properties": {"name": {"type": "string"}, "label": labels,
                                   "role": {"enum": ["dimension", "metric", "field"]},
                                   "type": {"type": "string"}}}},
                "rows": {"type": "array", "items": {"type": "object"}},
                "totals": {"type": "object"},
                "subtotals": {"type": "array", "items": {"type": "object"}},
                "column_values": {"type": "array",
                                  "description": "Matrix reports: the column values."},
            },
        },
    }


def _run_answers() -> Schema:
    answer = json_answer("The result (or the file with `format`).", ref("ReportResult"))
    answer["content"]["text/csv"] = {"schema": {"type": "string"}}
    answer["content"][XLSX_MIMETYPE] = {"schema": {"type": "string",
                                                   "contentMediaType": XLSX_MIMETYPE}}
    return {"200": answer}


def report_paths() -> dict[str, Any]:
    tag = {"tags": ["reports"]}
    return {
        REPORTS: {"get": {
            **tag, "operationId": "list_reports",
            "summary": "The reports over entities the caller may read",
            "responses": {"200": json_answer("The reports, by name.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "array", "items": ref("ReportSummary")}}}),
                **errors("401", "422", "429")},
        }},
        f"{REPORTS}/{{name}}": {"get": {
            **tag, "operationId": "get_report", "summary": "One report document",
            "parameters": [_NAME],
            "responses": {"200": json_answer("The report.", {
                "type": "object", "required": ["data"],
                "properties": {"data": ref("ReportDocument")}}),
                **errors("401", "404", "422", "429")},
        }},
        f"{REPORTS}/{{name}}/run": {"post": {
            **tag, "operationId": "run_report",
            "summary": "Run a report with the dashboard filters (period, owner, team)",
            "parameters": [_NAME, _FORMAT],
            "requestBody": {**json_body(ref("ReportParameters")), "required": False},
            "responses": {**_run_answers(),
                          **errors(*BODY_ERRORS, "401", "403", "404", "422", "429")},
        }},
        f"{REPORTS}/{{name}}/snapshots": {"get": {
            **tag, "operationId": "list_report_snapshots",
            "summary": "The report's scheduled snapshots, oldest first",
            "description": "Snapshots are taken with full rights (every record), so only a "
                           "caller whose read scope of the report's entity is `all` without "
                           "rules, and from whom none of its fields is hidden, may read "
                           "them; others get 403 with the reason.",
            "parameters": [_NAME],
            "responses": {"200": json_answer("The snapshots.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "array", "items": ref("ReportSnapshot")}}}),
                **errors("401", "403", "404", "422", "429")},
        }},
        f"{REPORTS}/run": {"post": {
            **tag, "operationId": "run_adhoc_report",
            "summary": "Run an ad-hoc report document (checked like a stored one)",
            "parameters": [_FORMAT],
            "requestBody": json_body({
                "type": "object", "required": ["report"], "additionalProperties": False,
                "properties": {"report": ref("ReportDocument"),
                               "parameters": ref("ReportParameters")}}),
            "responses": {**_run_answers(),
                          **errors(*BODY_ERRORS, "401", "403", "422", "429")},
        }},
    }
