"""OpenAPI path items and schemas of the webhooks API (`api.webhooks`).

The same for every metadata version: subscriptions, secret rotation, the delivery log and
redelivery. The bodies a receiver gets are requests metacrm makes, not ones it serves: they
are the document's top-level `webhooks` (`webhook_events`), one per payload format version
(a deprecated one marked `deprecated`), their schemas taken from `schemas/webhooks/` (each
file's `$defs` become components, `WebhookPayloadV<n>...`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from metacrm.api.deprecation import DEPRECATION_HEADERS
from metacrm.api.openapi_filters import CURSOR
from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    ENTITY_TAGS,
    errors,
    json_answer,
    json_body,
)
from metacrm.api.openapi_schemas import ref
from metacrm.kernel.ids import ID_PATTERN
from metacrm.settings import REPOSITORY_ROOT
from metacrm.webhooks.addresses import MAX_URL_LENGTH
from metacrm.webhooks.formats import FORMATS, NEWEST_VERSION, PayloadFormat
from metacrm.webhooks.service import DEFAULT_LIMIT, MAX_LIMIT
from metacrm.webhooks.subscriptions import ALL_EVENTS, EVENT_TYPES

Schema = dict[str, Any]
WEBHOOKS = "/api/v1/webhooks"
TAG = "webhooks"

_NULLABLE_TEXT: Schema = {"type": ["string", "null"]}
_TIME: Schema = {"type": "string", "format": "date-time"}
_NULLABLE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
_B64 = "[A-Za-z0-9+/]"
_SECRET: Schema = {
    "type": "string",
    # standard base64 of 24 to 64 bytes: 8 to 20 full groups of four and any last group,
    # or 21 full groups and at most one byte more
    "pattern": (f"^whsec_(?:(?:{_B64}{{4}}){{8,20}}(?:{_B64}{{2}}==|{_B64}{{3}}=)?"
                f"|(?:{_B64}{{4}}){{21}}(?:{_B64}{{2}}==)?)$"),
    "description": "`whsec_` + base64 of 24 to 64 random bytes."}
_URL: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH,
                "description": "http or https; must resolve to public internet addresses "
                               "only (no loopback, private, link-local, metadata...)."}
_EVENTS: Schema = {"type": "array", "minItems": 1, "uniqueItems": True,
                   "items": {"type": "string", "enum": [*EVENT_TYPES, ALL_EVENTS]},
                   "description": "Event types to hear; `*` for all (default)."}
_ENTITY: Schema = {"type": ["string", "null"],
                   "description": "Only events of this entity (null: every entity the owner "
                                  "may read)."}
_FILTER: Schema = {"type": ["object", "null"],
                   "description": "A criteria tree the record must match (needs `entity`; "
                                  "fields the owner may see; `$user` is the owner)."}
_ETAG = {"ETag": {"description": "The subscription's entity tag: \"<id>:<version>\".",
                  "required": True, "schema": {"type": "string"}},
         # a subscription pinning a deprecated payload version is a deprecated shape
         **DEPRECATION_HEADERS}
SCHEMA_DIRECTORY = REPOSITORY_ROOT / "schemas" / "webhooks"


def _version_notes() -> str:
    notes = []
    for version, found in sorted(FORMATS.items()):
        if found.deprecation is not None:
            notes.append(f"{version} is deprecated, served until "
                         f"{found.deprecation.sunset.date().isoformat()}")
    return "; ".join(notes)


_PAYLOAD_VERSION: Schema = {
    "type": "integer", "enum": sorted(FORMATS),
    "description": "The payload format version the subscription receives (default for a new "
                   f"one: {NEWEST_VERSION}); it stays until changed with PATCH. "
                   + _version_notes() + "."}
_LOCATION = {"Location": {"description": "URL of the new subscription.", "required": True,
                          "schema": {"type": "string"}}}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
             "description": "Only change the subscription when it still has this ETag.",
             "schema": ENTITY_TAGS}
_WEBHOOK_ID = {"name": "webhook_id", "in": "path", "required": True,
               "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
_EVENT_ID = {"name": "event_id", "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                     "default": DEFAULT_LIMIT}}
_CURSOR = {"name": "cursor", "in": "query", "required": False,
           "description": "`meta.next_cursor` of the previous page; opaque: a cursor the "
                          "server did not issue answers 422.",
           "schema": CURSOR}
_COMMON_ERRORS = ("401", "404", "422", "429")


def webhook_schemas() -> dict[str, Schema]:
    return {
        "Webhook": {
            "type": "object",
            "description": "A webhook subscription. `secret` only in the answers that create "
                           "or rotate it.",
            "required": ["id", "owner", "url", "events", "entity", "filter", "enabled",
                         "disabled_reason", "failing_since", "previous_secret_expires_at",
                         "created_at", "updated_at", "version", "payload_version",
                         "payload_deprecation"],
            "properties": {
                "id": {"type": "string"},
                "owner": {"type": "string", "description": "The user whose access limits "
                                                           "what is delivered."},
                "url": {"type": "string"},
                "events": {"type": "array", "items": {"type": "string"}},
                "entity": _NULLABLE_TEXT,
                "filter": {"type": ["object", "null"]},
                "enabled": {"type": "boolean"},
                "disabled_reason": _NULLABLE_TEXT,
                "failing_since": _NULLABLE_TIME,
                "previous_secret_expires_at": {
                    **_NULLABLE_TIME,
                    "description": "Until when the secret before the last rotation still "
                                   "signs deliveries too."},
                "created_at": _TIME,
                "updated_at": _TIME,
                "version": {"type": "integer", "minimum": 1},
                "payload_version": _PAYLOAD_VERSION,
                "payload_deprecation": {
                    "type": ["object", "null"],
                    "description": "Set when the pinned payload version is deprecated (the "
                                   "answer then also carries Deprecation, Sunset and Link "
                                   "headers): since when, until when it is served, and "
                                   "where the migration is described.",
                    "required": ["deprecated_since", "sunset", "link"],
                    "properties": {"deprecated_since": _TIME, "sunset": _TIME,
                                   "link": {"type": "string", "format": "uri"}}},
                "secret": _SECRET,
            },
        },
        "WebhookCreate": {
            "type": "object", "required": ["url"], "additionalProperties": False,
            "properties": {"url": _URL, "events": _EVENTS, "entity": _ENTITY,
                           "filter": _FILTER, "enabled": {"type": "boolean"},
                           "secret": {**_SECRET, "description": "Generated when not given."},
                           "payload_version": {**_PAYLOAD_VERSION, "default": NEWEST_VERSION}},
        },
        "WebhookChange": {
            "type": "object", "additionalProperties": False,
            "description": "The members to change; `enabled: true` also clears the failure "
                           "state of a disabled subscription.",
            "properties": {"url": _URL, "events": _EVENTS, "entity": _ENTITY,
                           "filter": _FILTER, "enabled": {"type": "boolean"},
                           "payload_version": _PAYLOAD_VERSION},
        },
        "WebhookSecret": {
            "type": "object", "additionalProperties": False,
            "properties": {"secret": {**_SECRET, "description": "Generated when not given."}},
        },
        "WebhookDocument": {"type": "object", "required": ["data"],
                            "properties": {"data": ref("Webhook")}},
        "WebhookPage": {
            "type": "object", "required": ["data", "meta"],
            "properties": {"data": {"type": "array", "items": ref("Webhook")},
                           "meta": {"type": "object", "required": ["next_cursor"],
                                    "properties": {"next_cursor": _NULLABLE_TEXT}}},
        },
        "WebhookAttempt": {
            "type": "object",
            "description": "One delivery attempt (status_code null: no answer; see error).",
            "required": ["id", "event_id", "event_type", "work_item_id", "attempt", "at",
                         "status_code", "latency_ms", "response_excerpt", "error"],
            "properties": {
                "id": {"type": "string"},
                "event_id": {"type": "string", "description": "Also the webhook-id header."},
                "event_type": {"type": "string"},
                "work_item_id": _NULLABLE_TEXT,
                "attempt": {"type": "integer", "minimum": 1},
                "at": _TIME,
                "status_code": {"type": ["integer", "null"]},
                "latency_ms": {"type": "integer", "minimum": 0},
                "response_excerpt": {**_NULLABLE_TEXT,
                                     "description": "The first kilobyte of the answer."},
                "error": _NULLABLE_TEXT,
            },
        },
        "WebhookAttemptPage": {
            "type": "object", "required": ["data", "meta"],
            "properties": {"data": {"type": "array", "items": ref("WebhookAttempt")},
                           "meta": {"type": "object", "required": ["next_cursor"],
                                    "properties": {"next_cursor": _NULLABLE_TEXT}}},
        },
        "WebhookRedelivery": {
            "type": "object", "required": ["data"],
            "properties": {"data": {
                "type": "object", "required": ["event_id", "work_item_id", "status"],
                "properties": {"event_id": {"type": "string"},
                               "work_item_id": {"type": "string"},
                               "status": {"type": "string", "enum": ["pending"]}}}},
        },
    }


def payload_schemas() -> dict[str, Schema]:
    """The JSON Schema of every payload version, as components (`WebhookPayloadV<n>` and
    its `$defs` as `WebhookPayloadV<n><Def>`)."""
    schemas: dict[str, Schema] = {}
    for version, found in sorted(FORMATS.items()):
        schemas.update(_hoisted(f"WebhookPayloadV{version}", _schema_file(found.schema)))
    return schemas


def webhook_events() -> dict[str, Any]:
    """The document's `webhooks`: the POST metacrm makes, once per payload version."""
    return {f"record-event-v{version}": {"post": _event_operation(found)}
            for version, found in sorted(FORMATS.items())}


def _event_operation(found: PayloadFormat) -> Schema:
    headers = [
        ("webhook-id", "The event id: the same on every retry (deduplicate on it)."),
        ("webhook-timestamp", "When this attempt was signed (Unix seconds)."),
        ("webhook-signature", "`v1,<base64 HMAC-SHA256>`; two, space-separated, during the "
                              "24 hours after a secret rotation."),
    ]
    if found.deprecation is not None:
        headers += [(name, header["description"])
                    for name, header in DEPRECATION_HEADERS.items()]
    operation: Schema = {
        "operationId": f"record_event_v{found.version}",
        "tags": [TAG],
        "summary": f"A record event, payload format version {found.version}",
        "description": "POSTed to the URL of each subscription pinning payload_version "
                       f"{found.version}, signed with Standard Webhooks headers.",
        "parameters": [{"name": name, "in": "header", "required": name.startswith("webhook"),
                        "description": text, "schema": {"type": "string"}}
                       for name, text in headers],
        "requestBody": json_body(ref(f"WebhookPayloadV{found.version}")),
        "responses": {"2XX": {"description": "Received; anything else is retried."}},
    }
    if found.deprecation is not None:
        sunset = found.deprecation.sunset.date().isoformat()
        operation["deprecated"] = True
        operation["description"] += (f" Deprecated: served until {sunset}; move the "
                                     "subscription to a newer version with PATCH "
                                     f"(see {found.deprecation.link}).")
    return operation


@cache
def _schema_file(name: str) -> str:
    return (SCHEMA_DIRECTORY / name).read_text(encoding="utf-8")


def _hoisted(name: str, text: str) -> dict[str, Schema]:
    """A JSON Schema file as components: its `$defs` lifted beside it, references rewritten
    (OpenAPI tools resolve `#/components/schemas/...`, not a nested `$id`'s `$defs`)."""
    document = json.loads(text)
    document.pop("$schema", None)
    document.pop("$id", None)
    defs = document.pop("$defs", {})

    def component(def_name: str) -> str:
        return name + "".join(part.capitalize() for part in def_name.split("_"))

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: (f"#/components/schemas/{component(item[len('#/$defs/'):])}"
                          if key == "$ref" and isinstance(item, str)
                          and item.startswith("#/$defs/") else rewrite(item))
                    for key, item in value.items()}
        if isinstance(value, list):
            return [rewrite(item) for item in value]
        return value

    hoisted = {component(def_name): rewrite(schema) for def_name, schema in defs.items()}
    return {name: rewrite(document), **hoisted}


def _operation(operation_id: str, summary: str, **rest: Any) -> Schema:
    return {"operationId": operation_id, "tags": [TAG], "summary": summary, **rest}


def _one(description: str) -> Schema:
    return json_answer(description, ref("WebhookDocument"), _ETAG)


def webhook_paths() -> dict[str, Any]:
    one = f"{WEBHOOKS}/{{webhook_id}}"
    return {
        WEBHOOKS: {
            "get": _operation(
                "list_webhooks", "The caller's webhook subscriptions (an admin's: all)",
                parameters=[_LIMIT, _CURSOR],
                responses={"200": json_answer("A page of subscriptions.", ref("WebhookPage")),
                           **errors("401", "422", "429")}),
            "post": _operation(
                "create_webhook", "Subscribe a URL to record events (the answer shows the "
                                  "secret, once)",
                requestBody=json_body(ref("WebhookCreate")),
                responses={"201": json_answer("Created.", ref("WebhookDocument"),
                                              {**_ETAG, **_LOCATION}),
                           **errors("401", "403", "409", "422", "429", *BODY_ERRORS)}),
        },
        one: {
            "parameters": [_WEBHOOK_ID],
            "get": _operation("get_webhook", "One subscription",
                              responses={"200": _one("The subscription."),
                                         **errors(*_COMMON_ERRORS)}),
            "patch": _operation(
                "update_webhook", "Change a subscription",
                parameters=[_IF_MATCH], requestBody=json_body(ref("WebhookChange")),
                responses={"200": _one("Changed."),
                           **errors(*_COMMON_ERRORS, "412", *BODY_ERRORS)}),
            "delete": _operation(
                "delete_webhook", "Delete a subscription and its delivery log",
                parameters=[_IF_MATCH],
                responses={"204": {"description": "Deleted."},
                           **errors(*_COMMON_ERRORS, "412")}),
        },
        f"{one}/rotate-secret": {"post": _operation(
            "rotate_webhook_secret", "A new signing secret; the old one keeps signing for 24 "
                                     "hours (the answer shows the new secret, once)",
            parameters=[_WEBHOOK_ID],
            requestBody={**json_body(ref("WebhookSecret")), "required": False},
            responses={"200": _one("Rotated."),
                       **errors(*_COMMON_ERRORS, "412", *BODY_ERRORS)})},
        f"{one}/deliveries": {"get": _operation(
            "list_webhook_deliveries", "The delivery attempts, newest first",
            parameters=[_WEBHOOK_ID, _LIMIT, _CURSOR,
                        {"name": "event_id", "in": "query", "required": False,
                         "description": "Only the attempts of this event.",
                         "schema": {"type": "string", "pattern": ID_PATTERN}}],
            responses={"200": json_answer("A page of attempts.", ref("WebhookAttemptPage")),
                       **errors(*_COMMON_ERRORS)})},
        f"{one}/deliveries/{{event_id}}/redeliver": {"post": _operation(
            "redeliver_webhook_event", "Send an event's delivery again now (same webhook-id)",
            parameters=[_WEBHOOK_ID, _EVENT_ID],
            responses={"202": json_answer("Scheduled.", ref("WebhookRedelivery")),
                       **errors(*_COMMON_ERRORS, "409")})},
    }
