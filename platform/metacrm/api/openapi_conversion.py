"""OpenAPI path items and schemas of the conversion API (`api.conversion`).

Spelled out per entity, like the records paths: an entity that is the source of at least one
conversion gets `POST /api/v1/records/<entity>/{id}/convert`, whose body names its
conversions and their targets (each target's `values` are the target entity's PATCH
fields) and whose answer carries the source record and one outcome per target.
"""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    ETAG_HEADER,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    READ_ERRORS,
    RECORD_ID,
    RECORDS,
    errors,
    json_answer,
)
from metacrm.api.openapi_schemas import english, nullable, ref
from metacrm.metadata.model import CompiledModel, ConversionDef

Schema = dict[str, Any]

ACTIONS = ["created", "matched", "used", "skipped"]


def _by_source(model: CompiledModel) -> dict[str, list[ConversionDef]]:
    found: dict[str, list[ConversionDef]] = {}
    for name in sorted(model.conversions):
        conversion = model.conversions[name]
        found.setdefault(conversion.entity, []).append(conversion)
    return found


def _choice(entities: list[str]) -> Schema:
    values = [ref(f"{name}.patch") for name in entities]
    return {
        "type": "object",
        "description": "skip (optional targets only), use an existing record, or make the "
                       "record with these values instead of the mapped ones (null clears "
                       "one); left out: made from the mapping, or matched.",
        "properties": {
            "skip": {"type": "boolean"},
            "use": {"type": "string", "minLength": 1, "maxLength": 64,
                    "description": "Id of an existing record to use as it is."},
            "values": values[0] if len(values) == 1 else {"anyOf": values},
        },
        "additionalProperties": False,
    }


def conversion_schemas(model: CompiledModel) -> dict[str, Schema]:
    """`ConversionOutcome` and, per source entity, `<entity>.convert` (the body) and
    `<entity>.conversion` (the answer)."""
    schemas: dict[str, Schema] = {}
    sources = _by_source(model)
    if not sources:
        return schemas
    schemas["ConversionOutcome"] = {
        "type": "object",
        "required": ["action", "entity", "record"],
        "properties": {
            "action": {"type": "string", "enum": ACTIONS},
            "entity": {"type": "string"},
            "record": nullable({"type": "object",
                                "description": "The target record (null when skipped)."}),
        },
        "additionalProperties": False,
    }
    for entity, conversions in sources.items():
        targets: dict[str, list[str]] = {}
        for conversion in conversions:
            for target in conversion.targets:
                entities = targets.setdefault(target.name, [])
                if target.entity not in entities:
                    entities.append(target.entity)
        schemas[f"{entity}.convert"] = {
            "type": "object",
            "properties": {
                "conversion": {"type": "string", "enum": [c.name for c in conversions],
                               "description": "May be left out when there is only one."},
                "targets": {"type": "object", "additionalProperties": False,
                            "properties": {name: _choice(entities)
                                           for name, entities in targets.items()}},
            },
            "additionalProperties": False,
        }
        schemas[f"{entity}.conversion"] = {
            "type": "object", "required": ["data"], "additionalProperties": False,
            "properties": {"data": {
                "type": "object", "required": ["record", "targets"],
                "additionalProperties": False,
                "properties": {
                    "record": ref(f"{entity}.record"),
                    "targets": {"type": "object",
                                "additionalProperties": ref("ConversionOutcome")},
                },
            }},
        }
    return schemas


def conversion_paths(model: CompiledModel) -> dict[str, Any]:
    """The convert path item of every entity that is the source of a conversion."""
    paths: dict[str, Any] = {}
    for name in _by_source(model):
        entity = model.entities[name]
        paths[f"{RECORDS}/{name}/{{id}}/convert"] = {"parameters": [RECORD_ID], "post": {
            "operationId": f"convert_{name}",
            "tags": [english(entity.plural_label) or name],
            "summary": f"Convert a {name} record into the records of a conversion",
            "description": "In one transaction: each target is skipped, used, matched to an "
                           "existing record or created as the caller; then the conversion's "
                           "transition closes the record. All or nothing; see docs/api.md, "
                           "converting a record.",
            "parameters": [IF_MATCH, IDEMPOTENCY_KEY],
            "requestBody": {"required": False, "content": {
                "application/json": {"schema": ref(f"{name}.convert")}}},
            "responses": {
                "200": json_answer("The converted record and every target's outcome.",
                                   ref(f"{name}.conversion"), ETAG_HEADER),
                **errors(*READ_ERRORS, *BODY_ERRORS, "409", "412"),
            },
        }}
    return paths
