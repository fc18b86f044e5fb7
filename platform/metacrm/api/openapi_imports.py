"""OpenAPI paths and schemas of the import API (`metacrm.api.imports`)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import BODY_ERRORS, READ_ERRORS, errors, json_answer
from metacrm.api.openapi_schemas import ref

Schema = dict[str, Any]
IMPORTS = "/api/v1/imports"
IMPORTS_TAG = {"name": "imports",
               "description": "CSV and XLSX files into records, as a background job."}
_ID = {"name": "import_id", "in": "path", "required": True,
       "schema": {"type": "string", "minLength": 1, "maxLength": 36}}
_COUNT = {"type": "integer", "minimum": 0}
_NULL_TEXT = {"type": ["string", "null"]}


def import_schemas() -> dict[str, Schema]:
    flag = {"type": "string", "enum": ["true", "false"], "default": "false"}
    return {
        "Import": {
            "type": "object",
            "required": ["id", "entity", "status", "mode", "dry_run", "silent", "counts",
                         "progress", "errors", "error_file"],
            "properties": {
                "id": {"type": "string"},
                "entity": {"type": "string"},
                "status": {"type": "string",
                           "enum": ["queued", "running", "completed", "failed",
                                    "reverted"]},
                "mode": {"type": "string", "enum": ["create", "update", "upsert"]},
                "key": {"type": "array", "items": {"type": "string"}},
                "dry_run": {"type": "boolean"},
                "silent": {"type": "boolean"},
                "file_name": {"type": "string"},
                "file_sha256": {"type": "string"},
                "mapping": {"type": ["object", "null"]},
                "counts": {"type": "object", "properties": {
                    name: _COUNT for name in ("created", "updated", "unchanged", "failed",
                                              "references_created")}},
                "progress": {"type": "object", "properties": {
                    "processed": _COUNT, "total": {"type": ["integer", "null"]},
                    "percent": {"type": ["integer", "null"]}}},
                "columns": {"type": "object", "description":
                            "Per mapped column: its field, cells filled, cells that failed."},
                "errors": {"type": "array", "description": "The first 100 failing rows.",
                           "items": {"type": "object", "properties": {
                               "row": {"type": "integer"}, "reason": {"type": "string"}}}},
                "warnings": {"type": "array", "items": {"type": "object"}},
                "error": _NULL_TEXT,
                "error_file": {**_NULL_TEXT, "description": "Link to the failing rows (CSV)."},
                "created_at": {"type": "string", "format": "date-time"},
                "finished_at": {"type": ["string", "null"], "format": "date-time"},
                "reverted_at": {"type": ["string", "null"], "format": "date-time"},
                "revertible_until": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "ImportUpload": {
            "type": "object",
            "required": ["file", "entity"],
            "additionalProperties": False,
            "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream",
                         "description": "CSV (any delimiter and encoding) or XLSX."},
                "entity": {"type": "string", "minLength": 1},
                "mapping": {"type": "string", "description":
                            "A mapping as JSON, or the name of a saved mapping; default: "
                            "the suggested one (docs/import.md)."},
                "mode": {"type": "string", "enum": ["create", "update", "upsert"],
                         "default": "create"},
                "key": {"type": "string", "description": "Key field(s), comma-separated."},
                "dry_run": flag,
                "silent": flag,
                "save_mapping": {"type": "string", "description":
                                 "Save the mapping under this name for the entity."},
            },
        },
        "ImportPreview": {
            "type": "object",
            "properties": {
                "entity": {"type": "string"}, "format": {"type": "string"},
                "encoding": _NULL_TEXT, "delimiter": _NULL_TEXT,
                "columns": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"type": "object"}},
                "suggested_mapping": {"type": "object"},
                "saved_mappings": {"type": "array", "items": {"type": "string"}},
            },
        },
    }


def _multipart(schema: Schema) -> Schema:
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _data(name: str) -> Schema:
    return {"type": "object", "required": ["data"], "properties": {"data": ref(name)}}


def import_paths() -> dict[str, Any]:
    tag = {"tags": ["imports"]}
    answer = json_answer("The import.", _data("Import"))
    return {
        IMPORTS: {"post": {
            **tag, "operationId": "start_import",
            "summary": "Import a file (202: runs as a job; the same file and options "
                       "again answer the earlier import)",
            "requestBody": _multipart(ref("ImportUpload")),
            "responses": {"202": {**json_answer("The import, queued or done.",
                                                _data("Import")),
                                  "headers": {"Location": {"required": True,
                                                           "schema": {"type": "string"}}}},
                          **errors(*READ_ERRORS, *BODY_ERRORS)},
        }},
        f"{IMPORTS}/preview": {"post": {
            **tag, "operationId": "preview_import",
            "summary": "A file's columns, first rows and suggested mapping",
            "requestBody": _multipart({"type": "object", "required": ["file", "entity"],
                                       "additionalProperties": False,
                                       "properties": {"file": {
                                           "type": "string",
                                           "contentMediaType": "application/octet-stream"},
                                                      "entity": {"type": "string",
                                                                 "minLength": 1}}}),
            "responses": {"200": json_answer("The preview.", _data("ImportPreview")),
                          **errors(*READ_ERRORS, *BODY_ERRORS)},
        }},
        f"{IMPORTS}/{{import_id}}": {"get": {
            **tag, "operationId": "get_import", "parameters": [_ID],
            "summary": "Status, counts, progress, first errors (importer and admins only)",
            "responses": {"200": answer, **errors("401", "404", "422", "429")},
        }},
        f"{IMPORTS}/{{import_id}}/errors": {"get": {
            **tag, "operationId": "get_import_errors", "parameters": [_ID],
            "summary": "The failing rows with an `import_error` column, as CSV",
            "responses": {"200": {"description": "The error file.",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **errors("401", "404", "422", "429")},
        }},
        f"{IMPORTS}/{{import_id}}/revert": {"post": {
            **tag, "operationId": "revert_import", "parameters": [_ID],
            "summary": "Delete the records the import created, restore the values it "
                       "changed (within 30 days)",
            "responses": {"200": answer, **errors("401", "403", "404", "409", "422",
                                                  "429")},
        }},
    }
