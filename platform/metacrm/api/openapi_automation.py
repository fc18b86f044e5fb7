"""OpenAPI path items and schemas of the automation API (`api.automation`): the runs log,
and the dry run of each trigger of the model (`name` an enum of the trigger names)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import BODY_ERRORS, READ_ERRORS, errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.automation.service import DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT
from metacrm.metadata.model import CompiledModel
from metacrm.storage.automation_runs import STATUSES

Schema = dict[str, Any]
AUTOMATION = "/api/v1/automation"
TAG = "automation"

_NULLABLE_TEXT: Schema = {"type": ["string", "null"]}


def automation_schemas() -> dict[str, Schema]:
    return {
        "AutomationRun": {
            "type": "object",
            "description": "One run of a trigger: ok, failed (reason: the error) or skipped "
                           "(reason: why).",
            "required": ["id", "trigger", "entity", "record_id", "event_id", "mode",
                         "status", "reason", "result", "duration_ms", "attempt",
                         "chain_id", "started_at"],
            "properties": {
                "id": {"type": "string"},
                "trigger": {"type": "string"},
                "entity": {"type": "string"},
                "record_id": _NULLABLE_TEXT,
                "event_id": _NULLABLE_TEXT,
                "mode": {"type": "string", "enum": ["sync", "async"]},
                "status": {"type": "string", "enum": list(STATUSES)},
                "reason": _NULLABLE_TEXT,
                "result": {"description": "What the actions did: {\"actions\": [...]}."},
                "duration_ms": {"type": ["integer", "null"], "minimum": 0},
                "attempt": {"type": ["integer", "null"], "minimum": 1},
                "chain_id": _NULLABLE_TEXT,
                "started_at": {"type": "string", "format": "date-time"},
            },
        },
        "AutomationRunPage": {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": {"type": "array", "items": ref("AutomationRun")},
                "meta": {"type": "object", "required": ["next_cursor"],
                         "properties": {"next_cursor": _NULLABLE_TEXT}},
            },
        },
        "TriggerTest": {
            "type": "object",
            "required": ["record_id"],
            "additionalProperties": False,
            "properties": {
                "record_id": {"type": "string", "minLength": 1, "maxLength": 64},
                "previous": {"type": "object",
                             "description": "Field values before the imagined change."},
            },
        },
        "TriggerTestResult": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {
                "type": "object",
                "required": ["trigger", "record_id", "matches", "condition", "enabled",
                             "actions"],
                "properties": {
                    "trigger": {"type": "string"},
                    "record_id": {"type": "string"},
                    "matches": {"type": "boolean",
                                "description": "Whether the imagined event fires it."},
                    "condition": {"type": "boolean"},
                    "enabled": {"type": "boolean"},
                    "actions": {"type": "array", "items": {
                        "type": "object", "required": ["type"],
                        "properties": {"type": {"type": "string"},
                                       "result": {"description": "What it would do."},
                                       "error": {"type": "string"}},
                    }},
                },
            }},
        },
    }


def automation_paths(model: CompiledModel) -> dict[str, Any]:
    text = {"type": "string", "maxLength": 255}
    paths: dict[str, Any] = {
        f"{AUTOMATION}/runs": {"get": {
            "operationId": "list_automation_runs", "tags": [TAG],
            "summary": "The trigger runs log, newest first (admins only)",
            "parameters": [
                {"name": "trigger", "in": "query", "required": False, "schema": text},
                {"name": "record_id", "in": "query", "required": False, "schema": text},
                {"name": "status", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": list(STATUSES)}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RUNS_LIMIT,
                            "default": DEFAULT_RUNS_LIMIT}},
                {"name": "cursor", "in": "query", "required": False,
                 "description": "`meta.next_cursor` of the previous page.", "schema": text},
            ],
            "responses": {"200": json_answer("A page of runs.", ref("AutomationRunPage")),
                          **errors("401", "403", "422", "429")},
        }},
    }
    if model.triggers:
        paths[f"{AUTOMATION}/triggers/{{name}}/test"] = {"post": {
            "operationId": "test_trigger", "tags": [TAG],
            "summary": "Dry run: what a trigger would do on a record; changes nothing "
                       "(admins only)",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": sorted(model.triggers)}}],
            "requestBody": json_body(ref("TriggerTest")),
            "responses": {"200": json_answer("The outcome.", ref("TriggerTestResult")),
                          **errors(*READ_ERRORS, *BODY_ERRORS)},
        }}
    return paths
