"""OpenAPI path items and schemas of the pipeline transitions API (`api.transitions`).

Spelled out per entity, like the records paths: an entity whose state fields have
pipelines gets `GET /api/v1/records/<entity>/{id}/transitions` and
`POST /api/v1/records/<entity>/{id}/transitions/{name}` with `name` an enum of its
transitions and a body whose `values` are the entity's writable fields minus its state
fields. Entities without transitions get neither.
"""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    ETAG_HEADER,
    IF_MATCH,
    READ_ERRORS,
    RECORD_ID,
    RECORDS,
    errors,
    json_answer,
)
from metacrm.api.openapi_schemas import EntitySchemas, english, ref
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import CompiledModel, EntityDef

Schema = dict[str, Any]

LABELS: Schema = {"type": "object", "description": "Translations by language code.",
                  "additionalProperties": {"type": "string"}}


def _transitions_of(model: CompiledModel, entity: EntityDef) -> list[str]:
    """The entity's transition names, over its state fields' pipelines."""
    found: list[str] = []
    for field in entity.fields:
        pipeline = model.pipelines.get(str(field.option("pipeline", "")))
        if field.type == "state" and pipeline is not None:
            found.extend(t.name for t in pipeline.transitions)
    return found


def _state_fields(entity: EntityDef) -> set[str]:
    return {field.name for field in entity.fields if field.type == "state"}


def transition_schemas(model: CompiledModel, registry: FieldTypeRegistry) -> dict[str, Schema]:
    """`TransitionOption`, `TransitionList` and one `<entity>.transition` body per entity
    with transitions."""
    schemas: dict[str, Schema] = {
        "TransitionOption": {
            "type": "object",
            "description": "A transition out of the record's current state that the caller's "
                           "roles may perform; `allowed` when the caller may update the record "
                           "and its guards pass now.",
            "required": ["name", "label", "pipeline", "field", "from", "to", "to_label",
                         "allowed", "missing", "condition_met", "conversion"],
            "properties": {
                "name": {"type": "string"},
                "label": LABELS,
                "pipeline": {"type": "string"},
                "field": {"type": "string", "description": "The state field it moves."},
                "from": {"oneOf": [{"type": "string", "enum": ["*"]},
                                   {"type": "array", "items": {"type": "string"}}]},
                "to": {"type": "string"},
                "to_label": LABELS,
                "allowed": {"type": "boolean"},
                "missing": {"type": "array", "items": {"type": "string"},
                            "description": "Required fields without a value."},
                "condition_met": {"type": "boolean"},
                "conversion": {
                    "type": ["string", "null"],
                    "description": "The conversion that owns this transition: it is "
                                   "performed by POST .../{id}/convert, and answered 409 "
                                   "when posted here."},
            },
            "additionalProperties": False,
        },
        "TransitionList": {
            "type": "object",
            "required": ["transitions"],
            "properties": {"transitions": {"type": "array", "items": ref("TransitionOption")}},
            "additionalProperties": False,
        },
    }
    for name in sorted(model.entities):
        entity = model.entities[name]
        if not _transitions_of(model, entity):
            continue
        patch = EntitySchemas(entity, registry).patch()
        states = _state_fields(entity)
        values = {**patch, "properties": {key: value for key, value in
                                          patch["properties"].items() if key not in states},
                  "description": "Fields set in the same step (not the state fields)."}
        schemas[f"{name}.transition"] = {
            "type": "object", "properties": {"values": values}, "additionalProperties": False}
    return schemas


def transition_paths(model: CompiledModel) -> dict[str, Any]:
    """The two path items of every entity with transitions."""
    paths: dict[str, Any] = {}
    for name in sorted(model.entities):
        entity = model.entities[name]
        names = _transitions_of(model, entity)
        if not names:
            continue
        base = f"{RECORDS}/{name}/{{id}}/transitions"
        tag = english(entity.plural_label) or name
        paths[base] = {"parameters": [RECORD_ID], "get": {
            "operationId": f"list_{name}_transitions", "tags": [tag],
            "summary": f"The transitions a {name} record may go through next",
            "responses": {"200": json_answer("The transitions out of the current state(s).",
                                             ref("TransitionList")),
                          **errors(*READ_ERRORS)},
        }}
        paths[f"{base}/{{name}}"] = {
            "parameters": [RECORD_ID, {"name": "name", "in": "path", "required": True,
                                       "description": "The transition.",
                                       "schema": {"type": "string", "enum": names}}],
            "post": {
                "operationId": f"transition_{name}", "tags": [tag],
                "summary": f"Move a {name} record through a pipeline transition",
                "description": "Checks the caller's roles, the current state and the guards "
                               "(required fields, condition) on the record with `values` "
                               "applied; writes the state and the values in one change. "
                               "See docs/api.md, pipelines and transitions.",
                "parameters": [IF_MATCH],
                "requestBody": {"required": False, "content": {
                    "application/json": {"schema": ref(f"{name}.transition")}}},
                "responses": {
                    "200": json_answer("The record after the transition.",
                                       ref(f"{name}.single"), ETAG_HEADER),
                    **errors(*READ_ERRORS, *BODY_ERRORS, "409", "412"),
                },
            },
        }
    return paths
