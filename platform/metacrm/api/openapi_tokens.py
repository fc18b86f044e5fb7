"""OpenAPI paths and schemas of the personal API tokens (`metacrm.api.tokens`)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import BODY_ERRORS, errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.identity.token_store import NAME_MAX_LENGTH

Schema = dict[str, Any]
TOKENS = "/api/v1/tokens"

_MOMENT = {"type": "string", "format": "date-time"}


def token_schemas() -> dict[str, Schema]:
    token: Schema = {
        "type": "object",
        "required": ["id", "name", "prefix", "user_id", "created_at", "expires_at",
                     "last_used_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string", "maxLength": NAME_MAX_LENGTH},
            "prefix": {"type": "string",
                       "description": "The first characters of the token, to recognise it."},
            "user_id": {"type": "string"},
            "created_at": _MOMENT,
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    return {
        "Token": token,
        "NewToken": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH,
                         "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$",
                         "description": "Any text without control characters."},
                "expires_at": {"type": ["string", "null"], "format": "date-time",
                               "description": "When the token stops working; never if null."},
            },
        },
        "IssuedToken": {
            "allOf": [ref("Token"), {
                "type": "object", "required": ["token"],
                "properties": {"token": {
                    "type": "string",
                    "description": "The secret, shown only in this answer: send it as "
                                   "'Authorization: Bearer <token>'.",
                }},
            }],
        },
    }


def token_paths() -> dict[str, Any]:
    tag = {"tags": ["tokens"]}
    return {
        TOKENS: {
            "get": {
                **tag, "operationId": "list_tokens",
                "summary": "The caller's personal API tokens (never their secrets)",
                "responses": {"200": json_answer("The tokens.", {
                    "type": "object", "required": ["data"],
                    "properties": {"data": {"type": "array", "items": ref("Token")}}}),
                    **errors("401", "429")},
            },
            "post": {
                **tag, "operationId": "create_token",
                "summary": "Create a personal API token (needs a password login, not a token)",
                "requestBody": json_body(ref("NewToken")),
                "responses": {
                    "201": json_answer(
                        "The token, with its secret shown once.",
                        {"type": "object", "required": ["data"],
                         "properties": {"data": ref("IssuedToken")}},
                        {"Location": {"description": "The token's address.",
                                      "schema": {"type": "string"}}}),
                    **errors("401", "403", "422", "429", *BODY_ERRORS)},
            },
        },
        f"{TOKENS}/{{token_id}}": {"delete": {
            **tag, "operationId": "revoke_token",
            "summary": "Revoke a token (the caller's own; an admin's: anyone's)",
            "parameters": [{"name": "token_id", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 64}}],
            "responses": {"204": {"description": "Revoked."}, **errors("401", "404", "429")},
        }},
    }


TOKENS_TAG = {"name": "tokens", "description": "Personal API tokens for scripts and "
                                               "integrations."}
