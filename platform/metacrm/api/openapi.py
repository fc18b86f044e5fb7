"""The OpenAPI 3.1 description of the API, generated from the live metadata.

`build_openapi(model, registry, version_number=n)` is a pure function of the compiled model:
every entity gets its records paths and schemas (api.openapi_paths, api.openapi_schemas);
the metadata API, the access explainer and the document itself are fixed paths. The result
is cached per metadata version (`cached_openapi`), so serving `/api/v1/openapi.json` costs a
dictionary look-up until an admin changes the metadata — then the next request sees the
new version's document.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from metacrm.api.openapi_automation import automation_paths, automation_schemas
from metacrm.api.openapi_conversion import conversion_paths, conversion_schemas
from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    READ_ERRORS,
    EntityPaths,
    errors,
    json_answer,
    json_body,
    problem_components,
)
from metacrm.api.openapi_schemas import EntitySchemas, ref, shared_schemas
from metacrm.api.openapi_transitions import transition_paths, transition_schemas
from metacrm.api.openapi_webhooks import webhook_paths, webhook_schemas
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.documents import KINDS
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]
OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
META = "/api/v1/meta"
CACHE_SIZE = 4


def build_openapi(
    model: CompiledModel, registry: FieldTypeRegistry, *, version_number: int
) -> dict[str, Any]:
    """The OpenAPI document of the API serving `model` (metadata version `version_number`)."""
    schemas: dict[str, Schema] = {**shared_schemas(), **meta_schemas()}
    paths: dict[str, Any] = {}
    tags: list[Schema] = []
    for name in sorted(model.entities):
        entity_schemas = EntitySchemas(model.entities[name], registry)
        schemas.update(entity_schemas.components())
        entity_paths = EntityPaths(entity_schemas)
        paths.update(entity_paths.paths())
        tags.append({"name": entity_paths.tag,
                     "description": f"Records of the entity `{name}`."})
    paths.update(meta_paths())
    paths.update(fixed_paths())
    schemas.update(transition_schemas(model, registry))
    paths.update(transition_paths(model))
    schemas.update(conversion_schemas(model))
    paths.update(conversion_paths(model))
    schemas.update(automation_schemas())
    paths.update(automation_paths(model))
    schemas.update(webhook_schemas())
    paths.update(webhook_paths())
    tags += [
        {"name": "metadata", "description": "The metadata API (admins only)."},
        {"name": "access", "description": "Why a user may or may not do something."},
        {"name": "automation", "description": "Trigger runs and dry runs (admins only)."},
        {"name": "webhooks", "description": "Record events POSTed to your URLs, signed."},
        {"name": "documentation", "description": "This document."},
    ]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "metacrm API",
            "version": f"{API_VERSION}+metadata.{version_number}",
            "description": (
                "The records API of every entity of the live metadata (version "
                f"{version_number}), the metadata API and the access explainer. Errors are "
                "RFC 9457 problem documents. Money and decimals travel as strings, datetimes "
                "as RFC 3339 UTC. Guide: docs/api.md."
            ),
        },
        "security": [{"bearerJWT": []}, {"personalToken": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": problem_components(),
            "securitySchemes": {
                "bearerJWT": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "An access token from POST /api/v1/security/login.",
                },
                "personalToken": {
                    "type": "http", "scheme": "bearer",
                    "description": "A personal API token (POST /api/v1/tokens), sent as "
                                   "'Authorization: Bearer <token>'.",
                },
            },
        },
    }


_cache: dict[tuple[int, str, int], tuple[dict[str, Any], str]] = {}
_cache_lock = threading.Lock()


def cached_openapi(
    model: CompiledModel, registry: FieldTypeRegistry, *, version_number: int
) -> tuple[dict[str, Any], str]:
    """The document and its JSON text, built once per metadata version (do not mutate)."""
    key = (version_number, model.checksum, id(registry))
    found = _cache.get(key)
    if found is not None:
        return found
    document = build_openapi(model, registry, version_number=version_number)
    built = (document, json.dumps(document, ensure_ascii=False, separators=(",", ":")))
    with _cache_lock:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        _cache[key] = built
    return built


# --- the metadata API ------------------------------------------------------------------------


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
_CHANGE_ERRORS = ("401", "403", "404", "409", "422", "429")


def _documents(description: str) -> Schema:
    return json_answer(description, {
        "type": "object", "required": ["data"],
        "properties": {"data": {"type": "array", "items": ref("MetadataDocument")}}})


def _change(description: str) -> Schema:
    return json_answer(description, ref("MetadataChange"))


def meta_paths() -> dict[str, Any]:
    document = json_answer("The document.", {
        "type": "object", "required": ["data"],
        "properties": {"data": ref("MetadataDocument")}})
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
                            "schema": {"type": "integer", "minimum": 1}}, _CONFIRM, _COMMENT],
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
                    "parameters": [_CONFIRM, _COMMENT],
                    "requestBody": json_body(ref("MetadataDocument")),
                    "responses": {"200": _change("Applied."),
                                  **errors(*_CHANGE_ERRORS, *BODY_ERRORS)}},
            "delete": {**_meta("delete_metadata_document",
                               "Remove a document and apply the new version"),
                       "parameters": [_CONFIRM, _COMMENT],
                       "responses": {"200": _change("Applied."), **errors(*_CHANGE_ERRORS)}},
        },
    }


def fixed_paths() -> dict[str, Any]:
    return {
        "/api/v1/access/explain": {"get": {
            "operationId": "explain_access", "tags": ["access"],
            "summary": "Which role, scope and rule grant or deny each operation and field",
            "parameters": [
                {"name": "user", "in": "query", "required": True,
                 "description": "User name or id.",
                 "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
                {"name": "entity", "in": "query", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 40}},
                {"name": "id", "in": "query", "required": False,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 64}},
            ],
            "responses": {"200": json_answer("The explanation.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "object"}}}),
                **errors(*READ_ERRORS)},
        }},
        "/api/v1/openapi.json": {"get": {
            "operationId": "get_openapi", "tags": ["documentation"],
            "summary": "This OpenAPI document, generated from the live metadata",
            "responses": {"200": json_answer("The document.", {"type": "object"}),
                          **errors("401", "429")},
        }},
    }
