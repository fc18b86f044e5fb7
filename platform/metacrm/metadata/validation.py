"""Validate metadata document bodies against their JSON Schemas, reporting every error.

One `DocumentValidator` per schema directory is built (and cached) once per process. Entity
documents are validated in two steps — the document with its `fields` only checked to be
objects, then each field on its own — so that each field is checked by the field schema
specialised to its type (see `specialise.py`); views and triggers are specialised to their
`type` / `event` the same way. The verdict is the file schemas'; only the work is less.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from metacrm.criteria.tree import budget_errors
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.documents import KINDS
from metacrm.metadata.schema_errors import ErrorTranslator, json_type, short_json
from metacrm.metadata.schema_keys import evaluated_keys, variant_keys
from metacrm.metadata.schemas import SCHEMA_DIR, SchemaSet, load_schema_set
from metacrm.metadata.specialise import VariantValidators


def _fields_as_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """The entity schema with each field only checked to be an object (fields are validated
    one by one afterwards)."""
    schema["properties"]["fields"]["items"] = {"type": "object"}
    return schema


class DocumentValidator:
    """Checks document bodies of every kind against `schemas/<kind>.schema.json`."""

    def __init__(self, schema_set: SchemaSet) -> None:
        origins: dict[int, Mapping[str, Any]] = {}
        self._by_kind: dict[str, VariantValidators] = {}
        for kind in KINDS:
            schema = schema_set.by_file(f"{kind}.schema.json")
            adjust = _fields_as_objects if kind == "entity" else None
            self._by_kind[kind] = VariantValidators(
                schema_set, schema, str(schema["$id"]), origins, adjust)
        entity = schema_set.by_file("entity.schema.json")
        self._fields = VariantValidators(
            schema_set, entity["$defs"]["field"], str(entity["$id"]), origins)
        probe: Validator = Draft202012Validator({}, registry=schema_set.registry)
        self._translator = ErrorTranslator(
            known_keys=lambda schema, instance: evaluated_keys(
                probe, schema_set.registry, schema, instance
            ),
            variants=lambda schema: variant_keys(
                schema_set.registry, origins.get(id(schema), schema)
            ),
        )

    def errors(self, body: Any, source: str) -> list[ErrorDetail]:
        """Every schema violation of one document body, in document order; empty if valid."""
        if isinstance(body, Mapping) and not isinstance(body, dict):
            body = dict(body)  # e.g. a read-only mapping from the metadata store
        try:
            return self._errors(body, source)
        except RecursionError:
            return [ErrorDetail("the document is nested too deeply", "", source)]

    def _errors(self, body: Any, source: str) -> list[ErrorDetail]:
        if not isinstance(body, dict):
            got = json_type(body)
            return [ErrorDetail(f"a metadata document must be a JSON object, got {got}",
                                "", source)]
        if "kind" not in body:
            return [ErrorDetail("missing required property 'kind'", "", source)]
        kind = body["kind"]
        if kind not in self._by_kind:
            kinds = ", ".join(KINDS)
            return [ErrorDetail(f"{short_json(kind)} is not a document kind: expected one of "
                                f"{kinds}", "/kind", source)]
        oversized = budget_errors(body)
        if oversized:  # refused before the schema check, which would take seconds
            return [ErrorDetail(e.message, e.pointer, source) for e in oversized]
        validator = self._by_kind[kind].for_instance(body)
        details = self._translator.details(validator.iter_errors(body), source=source)
        fields = body.get("fields") if kind == "entity" else None
        for index, field in enumerate(fields if isinstance(fields, list) else ()):
            if isinstance(field, dict):
                details += self._translator.details(
                    self._fields.for_instance(field).iter_errors(field),
                    prefix=("fields", index), source=source,
                )
        return sorted(details, key=lambda d: (_document_position(body, d.pointer), d.message))


def _document_position(body: Any, pointer: str) -> tuple[int, ...]:
    """Where `pointer` points in the document, as positions of keys and items, so that
    errors are listed in the order a reader meets them (not jsonschema's)."""
    position: list[int] = []
    node = body
    for token in pointer.split("/")[1:]:
        part = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            keys = list(node)
            position.append(keys.index(part) if part in node else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            position.append(int(part))
            node = node[int(part)]
        else:
            break
    return tuple(position)


@functools.cache
def document_validator(directory: Path = SCHEMA_DIR) -> DocumentValidator:
    """The validator of the schemas in `directory`, built once per process."""
    return DocumentValidator(load_schema_set(directory))


def validate_body(body: Any, source: str, directory: Path = SCHEMA_DIR) -> list[ErrorDetail]:
    """Every schema violation of one document body (a parsed JSON value)."""
    return document_validator(directory).errors(body, source)
