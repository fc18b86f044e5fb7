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
from collections.abc import Sequence
from typing import Any

from metacrm.api.openapi_automation import automation_paths, automation_schemas
from metacrm.api.openapi_calendar import CALENDAR_TAG, calendar_paths, calendar_schemas
from metacrm.api.openapi_conversion import conversion_paths, conversion_schemas
from metacrm.api.openapi_dashboards import (
    DASHBOARDS_TAG,
    dashboard_paths,
    dashboard_schemas,
)
from metacrm.api.openapi_data import DATA_TAG, data_paths, data_schemas
from metacrm.api.openapi_extensions import extension_paths, extension_tag
from metacrm.api.openapi_files import FILES_TAG, file_paths, file_schemas
from metacrm.api.openapi_filters import NO_NUL, NON_BLANK
from metacrm.api.openapi_imports import IMPORTS_TAG, import_paths, import_schemas
from metacrm.api.openapi_knowledge import knowledge_paths, knowledge_schemas
from metacrm.api.openapi_mailings import mailing_paths, mailing_schemas
from metacrm.api.openapi_marketing import marketing_paths, marketing_schemas
from metacrm.api.openapi_mass_print import mass_print_paths, mass_print_schemas
from metacrm.api.openapi_messages import MESSAGES_TAG, message_paths, message_schemas
from metacrm.api.openapi_meta import meta_paths, meta_schemas
from metacrm.api.openapi_notifications import (
    NOTIFICATIONS_TAG,
    notification_paths,
    notification_schemas,
)
from metacrm.api.openapi_paths import (
    READ_ERRORS,
    EntityPaths,
    errors,
    json_answer,
    problem_components,
)
from metacrm.api.openapi_reports import REPORTS_TAG, report_paths, report_schemas
from metacrm.api.openapi_schemas import EntitySchemas, shared_schemas
from metacrm.api.openapi_search import SEARCH_TAG, search_paths, search_schemas
from metacrm.api.openapi_service_desk import service_desk_paths, service_desk_schemas
from metacrm.api.openapi_telephony import TELEPHONY_TAG, telephony_paths, telephony_schemas
from metacrm.api.openapi_timeline import timeline_paths, timeline_schemas
from metacrm.api.openapi_tokens import TOKENS_TAG, token_paths, token_schemas
from metacrm.api.openapi_transitions import transition_paths, transition_schemas
from metacrm.api.openapi_webhooks import (
    payload_schemas,
    webhook_events,
    webhook_paths,
    webhook_schemas,
)
from metacrm.extension_host.contributions import RouteEntry
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]
OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
META = "/api/v1/meta"
CACHE_SIZE = 4


def build_openapi(
    model: CompiledModel, registry: FieldTypeRegistry, *, version_number: int,
    extension_routes: Sequence[tuple[str, RouteEntry]] = (),
) -> dict[str, Any]:
    """The OpenAPI document of the API serving `model` (metadata version `version_number`)
    and the loaded packs' `extension_routes` (pack, route)."""
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
    schemas.update(payload_schemas())
    paths.update(webhook_paths())
    schemas.update(token_schemas())
    paths.update(token_paths())
    schemas.update(notification_schemas())
    paths.update(notification_paths())
    schemas.update(search_schemas())
    paths.update(search_paths())
    paths.update(extension_paths(extension_routes))
    schemas.update(timeline_schemas())
    paths.update(timeline_paths(model))
    schemas.update(service_desk_schemas(model))
    paths.update(service_desk_paths(model))
    schemas.update(mailing_schemas(model))
    paths.update(mailing_paths(model))
    schemas.update(calendar_schemas())
    paths.update(calendar_paths())
    schemas.update(knowledge_schemas(model))
    paths.update(knowledge_paths(model))
    schemas.update(marketing_schemas(model))
    paths.update(marketing_paths(model))
    schemas.update(report_schemas())
    paths.update(report_paths())
    schemas.update(dashboard_schemas())
    paths.update(dashboard_paths())
    schemas.update(import_schemas())
    paths.update(import_paths())
    schemas.update(file_schemas())
    paths.update(file_paths(model))
    schemas.update(message_schemas())
    paths.update(message_paths(model))
    schemas.update(telephony_schemas())
    paths.update(telephony_paths(model))
    schemas.update(mass_print_schemas())
    paths.update(mass_print_paths(model))
    schemas.update(data_schemas())
    paths.update(data_paths(model))
    tags += [
        {"name": "metadata", "description": "The metadata API (admins only)."},
        {"name": "access", "description": "Why a user may or may not do something."},
        {"name": "automation", "description": "Trigger runs and dry runs (admins only)."},
        {"name": "webhooks", "description": "Record events POSTed to your URLs, signed."},
        TOKENS_TAG,
        NOTIFICATIONS_TAG,
        CALENDAR_TAG,
        SEARCH_TAG,
        REPORTS_TAG,
        DASHBOARDS_TAG,
        IMPORTS_TAG,
        FILES_TAG,
        MESSAGES_TAG,
        TELEPHONY_TAG,
        DATA_TAG,
        {"name": "documentation", "description": "This document."},
        *(extension_tag(pack) for pack in sorted({pack for pack, _ in extension_routes})),
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
        "webhooks": webhook_events(),
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


_cache: dict[tuple[int, str, int, str], tuple[dict[str, Any], str]] = {}
_cache_lock = threading.Lock()


def cached_openapi(
    model: CompiledModel, registry: FieldTypeRegistry, *, version_number: int,
    extension_routes: Sequence[tuple[str, RouteEntry]] = (), routes_key: str = "",
) -> tuple[dict[str, Any], str]:
    """The document and its JSON text, built once per metadata version and set of loaded
    packs (`routes_key`) — do not mutate."""
    key = (version_number, model.checksum, id(registry), routes_key)
    found = _cache.get(key)
    if found is not None:
        return found
    document = build_openapi(model, registry, version_number=version_number,
                             extension_routes=extension_routes)
    built = (document, json.dumps(document, ensure_ascii=False, separators=(",", ":")))
    with _cache_lock:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        _cache[key] = built
    return built


def fixed_paths() -> dict[str, Any]:
    return {
        "/api/v1/access/explain": {"get": {
            "operationId": "explain_access", "tags": ["access"],
            "summary": "Which role, scope and rule grant or deny each operation and field",
            "parameters": [
                {"name": "user", "in": "query", "required": True,
                 "description": "User name or id.",
                 "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                            "pattern": NON_BLANK}},
                {"name": "entity", "in": "query", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 40,
                            "pattern": NON_BLANK}},
                {"name": "id", "in": "query", "required": False,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 64,
                            "pattern": NO_NUL}},
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
