"""OpenAPI path items and schemas of the timeline API (`api.timeline`), one per entity."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import READ_ERRORS, RECORD_ID, RECORDS, errors, json_answer
from metacrm.api.openapi_schemas import english, ref
from metacrm.metadata.model import CompiledModel
from metacrm.services.timeline.service import DEFAULT_LIMIT, MAX_KINDS, MAX_LIMIT

Schema = dict[str, Any]


def timeline_schemas() -> dict[str, Schema]:
    """`TimelineEntry` and `TimelinePage`."""
    return {
        "TimelineEntry": {
            "type": "object",
            "description": "One item of a record's timeline. `change` and `transition` "
                           "entries (the audit trail) carry `action` and `changes`; an "
                           "activity or task regarding the record carries `entity` and "
                           "`record` (as the records API returns it, hidden fields left out).",
            "required": ["kind", "at", "id", "actor"],
            "properties": {
                "kind": {"type": "string", "description": "change, transition, or the entity "
                                                          "of a record about this one"},
                "at": {"type": "string", "format": "date-time"},
                "id": {"type": "string", "description": "The change's event id or the "
                                                        "record's id."},
                "actor": {"type": ["string", "null"], "description": "Who (a user id)."},
                "action": {"type": "string",
                           "enum": ["created", "updated", "deleted", "transitioned"]},
                "changes": {"type": "array", "items": {
                    "type": "object", "required": ["field", "old", "new"],
                    "properties": {"field": {"type": "string"}, "old": {}, "new": {}}}},
                "entity": {"type": "string"},
                "record": {"type": "object"},
            },
        },
        "TimelinePage": {
            "type": "object",
            "required": ["data", "next_cursor", "kinds"],
            "additionalProperties": False,
            "properties": {
                "data": {"type": "array", "items": ref("TimelineEntry")},
                "next_cursor": {"type": ["string", "null"],
                                "description": "Pass as `cursor` for the next (older) page; "
                                               "null on the last page."},
                "kinds": {"type": "array", "items": {"type": "string"},
                          "description": "Every kind this record's timeline may show."},
            },
        },
    }


def timeline_paths(model: CompiledModel) -> dict[str, Any]:
    """`GET /api/v1/records/<entity>/{id}/timeline` for every entity."""
    paths: dict[str, Any] = {}
    for name in sorted(model.entities):
        entity = model.entities[name]
        paths[f"{RECORDS}/{name}/{{id}}/timeline"] = {"parameters": [RECORD_ID], "get": {
            "operationId": f"timeline_{name}", "tags": [english(entity.plural_label) or name],
            "summary": f"The activity feed of a {name} record, newest first",
            "description": "Audit changes, transitions, and the activities and tasks about "
                           "the record (for a company also those of its people), each one "
                           "the caller may read. See docs/api.md, timeline.",
            "parameters": [
                {"name": "kind", "in": "query", "required": False, "explode": True,
                 "description": "Only these kinds (repeat or comma-separate).",
                 "schema": {"type": "array", "maxItems": MAX_KINDS,
                            "items": {"type": "string", "pattern": "^[^,]*$"}}},
                {"name": "cursor", "in": "query", "required": False,
                 "description": "The previous page's next_cursor.",
                 "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT}},
            ],
            "responses": {"200": json_answer("One page of the timeline.", ref("TimelinePage")),
                          **errors(*READ_ERRORS)},
        }}
    return paths
