"""OpenAPI path items and schemas of duplicates, merges and exports (`api.duplicates`,
`api.merges`, `api.exports`).

These paths are the same for every entity, so they take the entity as a path parameter
(an enum of the live entities) rather than being spelled out per entity.
"""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    IDEMPOTENCY_KEY,
    READ_ERRORS,
    RECORDS,
    errors,
    json_answer,
    json_body,
)
from metacrm.api.openapi_schemas import ref
from metacrm.metadata.model import CompiledModel
from metacrm.services.records.merge import MAX_RECORDS, MIN_RECORDS, UNDO_DAYS

Schema = dict[str, Any]
DATA_TAG = {"name": "data",
            "description": "Duplicates, merges and exports of any entity's records."}
TAGS = ["data"]


def data_schemas() -> dict[str, Schema]:
    return {
        "DuplicateMatch": {
            "type": "object", "required": ["rule", "action", "id", "title"],
            "properties": {
                "rule": {"type": "string", "description": "The duplicate rule that matched."},
                "action": {"type": "string", "enum": ["warn", "block"]},
                "id": {"type": "string"},
                "title": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "DuplicateAnswer": {
            "type": "object", "required": ["data", "meta"],
            "properties": {
                "data": {"type": "array", "items": ref("DuplicateMatch"),
                         "description": "The matching records the caller may read."},
                "meta": {"type": "object", "required": ["hidden_duplicates", "blocked"],
                         "properties": {
                             "hidden_duplicates": {
                                 "type": "integer", "minimum": 0,
                                 "description": "Matches the caller may not read (never "
                                                "named)."},
                             "blocked": {"type": "boolean",
                                         "description": "A block rule matched."}}},
            },
        },
        "DuplicateGroup": {
            "type": "object", "required": ["entity", "rule", "key", "ids"],
            "properties": {"entity": {"type": "string"}, "rule": {"type": "string"},
                           "key": {"type": "string"},
                           "ids": {"type": "array", "items": {"type": "string"},
                                   "minItems": 2}},
        },
        "DuplicateScan": {
            "type": "object", "required": ["data"],
            "properties": {"data": {
                "type": "object", "required": ["id", "entity", "status", "groups"],
                "properties": {
                    "id": {"type": "string"}, "entity": {"type": "string"},
                    "status": {"type": "string", "enum": ["queued", "done", "failed"]},
                    "error": {"type": ["string", "null"]},
                    "groups": {"type": "array", "items": ref("DuplicateGroup"),
                               "description": "Groups of records the caller may read "
                                              "now (others left out)."},
                    "created_at": {"type": "string"},
                    "finished_at": {"type": ["string", "null"]}}}},
        },
        "MergeRequest": {
            "type": "object", "required": ["ids", "survivor"], "additionalProperties": False,
            "properties": {
                "ids": {"type": "array", "items": {"type": "string", "minLength": 1},
                        "minItems": MIN_RECORDS, "maxItems": MAX_RECORDS,
                        "uniqueItems": True},
                "survivor": {"type": "string", "description": "One of `ids`: the record "
                                                              "that stays."},
                "values": {"type": "object",
                           "description": "The surviving value per field (the entity's "
                                          "PATCH fields); fields left out keep the "
                                          "survivor's value."},
            },
        },
    }


def data_paths(model: CompiledModel) -> dict[str, Any]:
    """The paths, or none for a model without entities."""
    if not model.entities:
        return {}
    entity = {"name": "entity", "in": "path", "required": True,
              "schema": {"type": "string", "enum": sorted(model.entities)}}
    record_id = {"name": "record_id", "in": "path", "required": True,
                 "schema": {"type": "string"}}
    merge_id = {"name": "merge_id", "in": "path", "required": True,
                "schema": {"type": "string"}}
    duplicates = json_answer("The duplicates, as the caller may know them.",
                             ref("DuplicateAnswer"))
    merged = json_answer("The merge.", {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "object", "required": ["merge", "record", "merged"], "properties": {
            "merge": {"type": "string", "description": "The merge id (for undo)."},
            "record": {"type": "object", "description": "The survivor as stored."},
            "merged": {"type": "array", "items": {"type": "string"}},
            "references": {"type": "integer", "minimum": 0,
                           "description": "References re-pointed to the survivor."}}}}})
    checks = {f"{RECORDS}/{name}/duplicates/check": _check_path(name, duplicates)
              for name in sorted(model.entities)}
    return {**checks,
        f"{RECORDS}/{{entity}}/{{record_id}}/duplicates": {"get": {
            "tags": TAGS, "operationId": "record_duplicates",
            "summary": "The duplicates of a record under its entity's duplicate rules",
            "parameters": [entity, record_id],
            "responses": {"200": duplicates, **errors(*READ_ERRORS)}}},
        f"{RECORDS}/{{entity}}/duplicates/scan": {"get": {
            "tags": TAGS, "operationId": "scan_duplicates",
            "summary": "Groups of readable records sharing a duplicate rule's exact key",
            "parameters": [entity],
            "responses": {"200": json_answer("The groups.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "array", "items": ref("DuplicateGroup")}}}),
                **errors(*READ_ERRORS)}}},
        f"{RECORDS}/{{entity}}/duplicates/scans": {"post": {
            "tags": TAGS, "operationId": "request_duplicate_scan",
            "summary": "Scan the entity for duplicate groups in a background job",
            "parameters": [entity],
            "responses": {"202": json_answer("The scan (status queued, or done when the "
                                             "queue ran it at once).", ref("DuplicateScan")),
                          **errors(*READ_ERRORS)}}},
        f"{RECORDS}/{{entity}}/duplicates/scans/{{scan_id}}": {"get": {
            "tags": TAGS, "operationId": "read_duplicate_scan",
            "summary": "A duplicate scan the caller asked for, with its groups",
            "parameters": [entity, {"name": "scan_id", "in": "path", "required": True,
                                    "schema": {"type": "string"}}],
            "responses": {"200": json_answer("The scan.", ref("DuplicateScan")),
                          **errors(*READ_ERRORS)}}},
        f"{RECORDS}/{{entity}}/merge/preview": {"post": {
            "tags": TAGS, "operationId": "merge_preview",
            "summary": "Records side by side before a merge",
            "parameters": [entity],
            "requestBody": json_body({"type": "object", "required": ["ids"],
                                      "additionalProperties": False, "properties": {
                                          "ids": {"type": "array",
                                                  "items": {"type": "string", "minLength": 1},
                                                  "minItems": MIN_RECORDS,
                                                  "maxItems": MAX_RECORDS,
                                                  "uniqueItems": True}}}),
            "responses": {"200": json_answer("The records, the fields, those that differ.",
                                             {"type": "object"}),
                          **errors(*READ_ERRORS, *BODY_ERRORS)}}},
        f"{RECORDS}/{{entity}}/merge": {"post": {
            "tags": TAGS, "operationId": "merge_records",
            "summary": f"Merge {MIN_RECORDS} to {MAX_RECORDS} records into one",
            "description": "Re-points every reference (regarding links included) to the "
                           "survivor, keeps the merged records in the merge ledger and "
                           "their history, writes one `merged` audit entry and one "
                           f"`record.merged` event. Undo within {UNDO_DAYS} days.",
            "parameters": [entity, IDEMPOTENCY_KEY],
            "requestBody": json_body(ref("MergeRequest")),
            "responses": {"200": merged, **errors(*READ_ERRORS, *BODY_ERRORS, "409")}}},
        f"{RECORDS}/{{entity}}/merges/{{merge_id}}/undo": {"post": {
            "tags": TAGS, "operationId": "undo_merge",
            "summary": f"Undo a merge (within {UNDO_DAYS} days)",
            "parameters": [entity, merge_id],
            "responses": {"200": json_answer("The survivor and the restored ids.",
                                             {"type": "object"}),
                          **errors(*READ_ERRORS, "409")}}},
        f"{RECORDS}/{{entity}}/export": {"get": {
            "tags": TAGS, "operationId": "export_records",
            "summary": "The records the caller may read and export, as CSV or XLSX",
            "description": "Takes the list's `filter[<field>][<op>]`, `q`, `sort` and "
                           "`fields` parameters (see each entity's list operation). Display "
                           "values by default; `raw=1` writes JSON values with the id first. "
                           "Streamed; text that would run as a formula is escaped.",
            "parameters": [
                entity,
                {"name": "format", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["csv", "xlsx"], "default": "csv"}},
                {"name": "raw", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["0", "1", "true", "false"]}},
            ],
            "responses": {"200": {"description": "The file.", "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "contentEncoding": "binary"}}}},
                **errors(*READ_ERRORS)}}},
    }


def _check_path(name: str, duplicates: Schema) -> dict[str, Any]:
    """The pre-check of one entity: `values` are what a create or update of it would send
    (its patch schema), so only its own fields are accepted."""
    return {"post": {
        "tags": TAGS, "operationId": f"check_duplicates_{name}",
        "summary": f"The duplicates a {name} record with these values would have (writes "
                   "nothing)",
        "requestBody": json_body({"type": "object", "required": ["values"],
                                  "additionalProperties": False, "properties": {
                                      "values": ref(f"{name}.patch"),
                                      "exclude": {"type": "string"}}}),
        "responses": {"200": duplicates, **errors(*READ_ERRORS, *BODY_ERRORS)}}}
