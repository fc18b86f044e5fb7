"""OpenAPI path and schemas of global search (`metacrm.api.search`)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import errors, json_answer
from metacrm.api.openapi_schemas import ref
from metacrm.services.records.global_search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_LENGTH,
    MIN_QUERY_LENGTH,
)

Schema = dict[str, Any]
SEARCH = "/api/v1/search"

SEARCH_TAG = {"name": "search",
              "description": "One text across every entity the caller may read."}


def search_schemas() -> dict[str, Schema]:
    return {
        "SearchHit": {
            "type": "object", "required": ["entity", "id", "title"],
            "properties": {
                "entity": {"type": "string"},
                "id": {"type": "string"},
                "title": {"type": "string",
                          "description": "The record's title (the entity's title "
                                         "template) as the caller may see it."},
            },
        },
        "SearchGroup": {
            "type": "object",
            "required": ["entity", "label", "count", "count_is_estimate", "hits"],
            "properties": {
                "entity": {"type": "string"},
                "label": {"type": "object", "additionalProperties": {"type": "string"},
                          "description": "The entity's label per language."},
                "count": {"type": "integer", "minimum": 0,
                          "description": "How many of its records match in all (exact up "
                                         "to 1,000)."},
                "count_is_estimate": {"type": "boolean"},
                "hits": {"type": "array", "items": ref("SearchHit"),
                         "description": "The best matches of the search index, exact and "
                                        "prefix title matches first, then substring "
                                        "matches, then the others."},
            },
        },
    }


def search_paths() -> dict[str, Any]:
    return {SEARCH: {"get": {
        "tags": ["search"], "operationId": "search_records",
        "summary": "Search the records of every entity the caller may read",
        "description": (
            "Full-text search of each entity's `search_fields`: every word must start a "
            "word of a field, compared by English and Russian stems; close misspellings "
            "count when the words as typed find nothing. Within the caller's read scope "
            "and field security (a hidden field is not searched); entities the caller may "
            "not read, or has no fields to search in, are skipped."),
        "parameters": [
            {"name": "q", "in": "query", "required": True,
             "description": "The text, trimmed of surrounding spaces.",
             "schema": {"type": "string", "minLength": MIN_QUERY_LENGTH,
                        "maxLength": MAX_QUERY_LENGTH}},
            {"name": "entity", "in": "query", "required": False,
             "description": "Search this entity only (404 when the caller may not read it).",
             "schema": {"type": "string", "minLength": 1, "maxLength": 40}},
            {"name": "limit", "in": "query", "required": False,
             "description": "Hits per entity.",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT}},
        ],
        "responses": {"200": json_answer("The hits, grouped by entity (by name).", {
            "type": "object", "required": ["data"],
            "properties": {"data": {"type": "array", "items": ref("SearchGroup")}}}),
            **errors("401", "404", "422", "429")},
    }}}
