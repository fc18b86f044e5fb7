"""OpenAPI paths and schemas of the metadata API (`metacrm.api.meta`).

Reads answer with the metadata ETag `"v<version>"`; changes take it back in `If-Match` and
answer 412 when another change came first (no lost updates between two admins).
"""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import BODY_ERRORS, ENTITY_TAGS, errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.metadata.documents import KINDS

Schema = dict[str, Any]
META = "/api/v1/meta"

METADATA_ETAG = {"ETag": {
    "description": 'The live metadata version the answer was read at: "v<version>".',
    "required": True, "schema": {"type": "string", "pattern": '^"v[0-9]+"$'}}}
METADATA_IF_MATCH = {
    "name": "If-Match", "in": "header", "required": False,
    "description": 'The metadata ETag ("v<version>") last read; the change fails with 412 '
                   "when another version was applied since.",
    "schema": ENTITY_TAGS,
}


def meta_schemas() -> dict[str, Schema]:
    return {
        "MetadataDocument": {
            "type": "object",
            "description": "A metadata document, exactly as in the metadata/ folders "
                           "(docs/metadata.md).",
            "required": ["kind", "name"],
            "properties": {"kind": {"type": "string", "enum": list(KINDS)},
                           "name": {"type": "string"}},
        },
        "MigrationPlan": {
            "type": "object",
            "required": ["destructive", "operations"],
            "properties": {"destructive": {"type": "boolean"},
                           "operations": {"type": "array", "items": {"type": "object"}},
                           "description": {"type": "string"}},
        },
        "MetadataChange": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {
                "type": "object",
                "required": ["version", "changed", "plan"],
                "properties": {
                    "version": {"type": "integer", "minimum": 0,
                                "description": "The live version after the change."},
                    "changed": {"type": "boolean",
                                "description": "False when the documents were unchanged."},
                    "plan": ref("MigrationPlan"),
                },
            }},
        },
        "MetadataPlan": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {
                "type": "object",
                "required": ["valid", "errors", "live_version"],
                "properties": {
                    "valid": {"type": "boolean"},
                    "errors": ref("ErrorList"),
                    "live_version": {"type": "integer", "minimum": 0},
                    "unchanged": {"type": "boolean"},
                    "plan": ref("MigrationPlan"),
                },
            }},
        },
        "MetadataVersion": {
            "type": "object",
            "required": ["number", "checksum", "created_at"],
            "properties": {
                "number": {"type": "integer", "minimum": 1},
                "checksum": {"type": "string"},
                "author": {"type": ["string", "null"]},
                "comment": {"type": ["string", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "plan": {"type": ["object", "null"]},
            },
        },
    }


def _meta(operation_id: str, summary: str) -> Schema:
    return {"operationId": operation_id, "summary": summary, "tags": ["metadata"]}


_KIND = {"name": "kind", "in": "path", "required": True,
         "schema": {"type": "string", "enum": list(KINDS)}}
_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 40}}
_CONFIRM = {"name": "confirm_destructive", "in": "query", "required": False,
            "description": "Apply even when the plan archives fields or entities.",
            "schema": {"type": "boolean", "default": False}}
_COMMENT = {"name": "comment", "in": "query", "required": False,
            "description": "Why; kept with the new version.",
            "schema": {"type": "string", "maxLength": 500}}
_CHANGE_ERRORS = ("401", "403", "404", "409", "412", "422", "429")


def _documents(description: str) -> Schema:
    return json_answer(description, {
        "type": "object", "required": ["data"],
        "properties": {"data": {"type": "array", "items": ref("MetadataDocument")}}},
        METADATA_ETAG)


def _change(description: str) -> Schema:
    return json_answer(description, ref("MetadataChange"), METADATA_ETAG)


def meta_paths() -> dict[str, Any]:
    document = json_answer("The document.", {
        "type": "object", "required": ["data"],
        "properties": {"data": ref("MetadataDocument")}}, METADATA_ETAG)
    return {
        f"{META}/plan": {"post": {
            **_meta("plan_metadata", "Dry run: validate documents and show the plan"),
            "requestBody": json_body({"oneOf": [
                ref("MetadataDocument"),
                {"type": "object", "required": ["documents"], "additionalProperties": False,
                 "properties": {"documents": {"type": "array",
                                              "items": ref("MetadataDocument")}}},
            ]}),
            "responses": {"200": json_answer("Validation errors and migration plan.",
                                             ref("MetadataPlan")),
                          **errors("401", "403", "422", "429", *BODY_ERRORS)},
        }},
        f"{META}/versions": {"get": {
            **_meta("list_metadata_versions", "Every applied metadata version, newest first"),
            "responses": {"200": json_answer("The versions.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "array", "items": ref("MetadataVersion")}}}),
                **errors("401", "403", "429")},
        }},
        f"{META}/versions/{{number}}/restore": {"post": {
            **_meta("restore_metadata_version",
                    "Apply the documents of an earlier version as a new version"),
            "parameters": [{"name": "number", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}, _CONFIRM, _COMMENT,
                           METADATA_IF_MATCH],
            "responses": {"200": _change("The version now live."), **errors(*_CHANGE_ERRORS)},
        }},
        f"{META}/{{kind}}": {"get": {
            **_meta("list_metadata_documents", "Documents of one kind in the live version"),
            "parameters": [_KIND],
            "responses": {"200": _documents("The documents."),
                          **errors("401", "403", "404", "429")},
        }},
        f"{META}/{{kind}}/{{name}}": {
            "parameters": [_KIND, _NAME],
            "get": {**_meta("get_metadata_document", "One document of the live version"),
                    "responses": {"200": document, **errors("401", "403", "404", "429")}},
            "put": {**_meta("put_metadata_document",
                            "Add or replace a document and apply the new version"),
                    "parameters": [_CONFIRM, _COMMENT, METADATA_IF_MATCH],
                    "requestBody": json_body(ref("MetadataDocument")),
                    "responses": {"200": _change("Applied."),
                                  **errors(*_CHANGE_ERRORS, *BODY_ERRORS)}},
            "delete": {**_meta("delete_metadata_document",
                               "Remove a document and apply the new version"),
                       "parameters": [_CONFIRM, _COMMENT, METADATA_IF_MATCH],
                       "responses": {"200": _change("Applied."), **errors(*_CHANGE_ERRORS)}},
        },
    }
