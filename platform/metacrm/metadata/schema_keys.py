"""Which keys of an object a schema accepts — for error messages about unknown keys.

jsonschema reports `unevaluatedProperties: false` as one message listing the keys; to point
at each unknown key (and to say "does not apply when type is ..." for a key another variant
allows) the translator needs to know which keys the schema does accept for this instance.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema.protocols import Validator
from referencing import Registry


def evaluated_keys(
    validator: Validator, registry: Registry[Any], schema: Any, instance: Any
) -> set[str]:
    """The keys of `instance` that `schema` evaluates, following the subset of keywords the
    metadata schemas use (properties, patternProperties, allOf, anyOf, oneOf, if/then/else,
    $ref). Keys outside this set are the ones `unevaluatedProperties: false` rejects."""
    if not isinstance(schema, dict) or not isinstance(instance, dict):
        return set()
    keys = set(schema.get("properties", {})) & instance.keys()
    for pattern in schema.get("patternProperties", {}):
        keys |= {key for key in instance if re.search(pattern, key)}
    if schema.get("additionalProperties", False) is not False:
        keys |= instance.keys()
    ref = schema.get("$ref")
    if isinstance(ref, str):
        keys |= evaluated_keys(validator, registry, _lookup(registry, ref), instance)
    for sub in schema.get("allOf", ()):
        keys |= evaluated_keys(validator, registry, sub, instance)
    for keyword in ("anyOf", "oneOf"):
        for sub in schema.get(keyword, ()):
            if validator.evolve(schema=sub).is_valid(instance):
                keys |= evaluated_keys(validator, registry, sub, instance)
    if "if" in schema:
        branch = "then" if validator.evolve(schema=schema["if"]).is_valid(instance) else "else"
        keys |= evaluated_keys(validator, registry, schema.get(branch), instance)
    return keys


def variant_keys(registry: Registry[Any], schema: Any) -> tuple[str, frozenset[str]] | None:
    """For a schema whose `allOf` holds `if {prop: const} then {...}` variants: the
    discriminating property and every key some variant declares."""
    if not isinstance(schema, dict):
        return None
    discriminator: str | None = None
    keys: set[str] = set()
    for entry in schema.get("allOf", ()):
        condition = _deref(registry, entry.get("if")) if isinstance(entry, dict) else None
        if not isinstance(condition, dict):
            continue
        tested = list(condition.get("properties", {}))
        if len(tested) == 1:
            discriminator = tested[0]
            branch = _deref(registry, entry.get("then"))
            keys |= set(branch.get("properties", {})) if isinstance(branch, dict) else set()
    return (discriminator, frozenset(keys)) if discriminator else None


def _deref(registry: Registry[Any], schema: Any) -> Any:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and len(schema) == 1:
        schema = _lookup(registry, schema["$ref"])
    return schema


def _lookup(registry: Registry[Any], ref: str) -> Any:
    """Resolve an absolute `$ref` (inlined schemas keep only absolute ones)."""
    return registry.resolver().lookup(ref).contents
