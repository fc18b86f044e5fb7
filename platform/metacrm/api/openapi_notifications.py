"""OpenAPI paths and schemas of the caller's notifications (`metacrm.api.notifications`)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import BODY_ERRORS, errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.notifications.service import MAX_IDS, MAX_LIMIT
from metacrm.notifications.store import KINDS

Schema = dict[str, Any]
NOTIFICATIONS = "/api/v1/notifications"
_UUID = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                      "[0-9a-f]{12}$"}

NOTIFICATIONS_TAG = {"name": "notifications",
                     "description": "What the caller is told about (the bell)."}


def notification_schemas() -> dict[str, Schema]:
    nullable_text = {"type": ["string", "null"]}
    return {
        "Notification": {
            "type": "object",
            "required": ["id", "kind", "entity", "record_id", "message", "actor",
                         "created_at", "read_at", "record"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "kind": {"type": "string", "enum": list(KINDS)},
                "entity": nullable_text, "record_id": nullable_text,
                "message": nullable_text,
                "actor": {"type": ["string", "null"],
                          "description": "The user id, or `trigger:<name>`, that caused it."},
                "created_at": {"type": "string", "format": "date-time"},
                "read_at": {"type": ["string", "null"], "format": "date-time"},
                "record": {"type": ["object", "null"],
                           "description": "The record it is about, as the caller may see it."},
            },
        },
        "MarkRead": {
            "oneOf": [
                {"type": "object", "required": ["ids"], "additionalProperties": False,
                 "properties": {"ids": {"type": "array", "minItems": 1, "maxItems": MAX_IDS,
                                        "items": _UUID}}},
                {"type": "object", "required": ["all"], "additionalProperties": False,
                 "properties": {"all": {"const": True}}},
            ],
        },
    }


def notification_paths() -> dict[str, Any]:
    tag = {"tags": ["notifications"]}
    return {
        NOTIFICATIONS: {"get": {
            **tag, "operationId": "list_notifications",
            "summary": "The caller's notifications, newest first",
            "parameters": [
                {"name": "unread", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["true", "false"]}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
                {"name": "cursor", "in": "query", "required": False,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
            ],
            "responses": {"200": json_answer("One page of notifications.", {
                "type": "object", "required": ["data", "meta"],
                "properties": {
                    "data": {"type": "array", "items": ref("Notification")},
                    "meta": {"type": "object", "required": ["unread", "next_cursor"],
                             "properties": {"unread": {"type": "integer", "minimum": 0},
                                            "next_cursor": {"type": ["string", "null"]}}},
                }}), **errors("401", "422", "429")},
        }},
        f"{NOTIFICATIONS}/read": {"post": {
            **tag, "operationId": "mark_notifications_read",
            "summary": "Mark some or all of the caller's notifications read",
            "requestBody": json_body(ref("MarkRead")),
            "responses": {"200": json_answer("How many were marked, and what is left.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {
                    "type": "object", "required": ["marked", "unread"],
                    "properties": {"marked": {"type": "integer", "minimum": 0},
                                   "unread": {"type": "integer", "minimum": 0}}}}}),
                **errors("401", "422", "429", *BODY_ERRORS)},
        }},
    }
