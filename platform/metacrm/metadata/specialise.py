"""Validators of a schema specialised to one value of its discriminating property.

Several schemas choose their allowed keys with `allOf: [{if: {prop: const}, then: {...}}]`
plus `unevaluatedProperties: false`: an entity field by its `type`, a view by its `type`, a
trigger by its `event`. jsonschema checks that literally — every `if`, and again every `if`
while working out which keys were evaluated — which dominated the validation time of large
models. For one value of the property each `if`'s outcome is fixed, so the copy of the schema
for that value keeps only the matching `then`s, merged into plain `properties` with
`additionalProperties: false` when they are simple property lists. The verdict is the same as
the file schema's; the work is done once per value instead of once per object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from metacrm.metadata.schemas import SchemaSet

_ANNOTATIONS = frozenset({"description", "title", "$comment"})
_SIMPLE_VARIANT_KEYS = frozenset({"properties", "required", "patternProperties"})

Adjust = Callable[[dict[str, Any]], dict[str, Any]]


class VariantValidators:
    """Validators of `schema` (from the file with `$id` `base`), one per discriminator value.

    `origins` maps each specialised schema (by id) to the unspecialised one, so that error
    messages can still name the keys other variants allow. `adjust` rewrites every built
    schema (the entity schema uses it to validate its fields separately).
    """

    def __init__(
        self,
        schema_set: SchemaSet,
        schema: Mapping[str, Any],
        base: str,
        origins: dict[int, Mapping[str, Any]],
        adjust: Adjust | None = None,
    ) -> None:
        self._set = schema_set
        self._schema = schema
        self._base = base
        self._origins = origins
        self._adjust = adjust or (lambda built: built)
        self._probe: Validator = Draft202012Validator({}, registry=schema_set.registry)
        self._conditions = [self._condition(entry) for entry in schema.get("allOf", ())]
        tested = {prop for prop, _ in filter(None, self._conditions)}
        self.discriminator = tested.pop() if len(tested) == 1 else None
        self._validators: dict[str | None, Validator] = {}

    def for_instance(self, instance: Any) -> Validator:
        """The validator for this instance's discriminator value (built on first use)."""
        value = instance.get(self.discriminator) if (
            self.discriminator and isinstance(instance, dict)) else None
        key = value if isinstance(value, str) else None
        validator = self._validators.get(key)
        if validator is None:
            validator = Draft202012Validator(self._build(key), registry=self._set.registry)
            self._validators[key] = validator
        return validator

    def _build(self, value: str | None) -> dict[str, Any]:
        original = self._adjust(self._set.inlined(self._schema, self._base))
        if value is None or self.discriminator is None:
            return original
        entries: list[Any] = []
        for entry, condition in zip(self._schema.get("allOf", ()), self._conditions,
                                    strict=True):
            if condition is None or condition[0] != self.discriminator:
                entries.append(entry)
            elif self._probe.evolve(schema=condition[1]).is_valid({self.discriminator: value}):
                entries.append(entry["then"])
        specialised = self._set.inlined({**self._schema, "allOf": entries}, self._base)
        built = self._adjust(merge_variants(specialised))
        self._origins[id(built)] = original
        return built

    def _condition(self, entry: Any) -> tuple[str, dict[str, Any]] | None:
        """(property, inlined `if`) when `entry` is `if`/`then` and the `if` tests only one
        property's value (and maybe requires it)."""
        if not isinstance(entry, dict) or set(entry) != {"if", "then"}:
            return None
        condition = self._set.inline(entry["if"], self._base)
        if not isinstance(condition, dict):
            return None
        properties = condition.get("properties", {})
        if (set(condition) - _ANNOTATIONS <= {"properties", "required"}
                and len(properties) == 1
                and set(condition.get("required", [])) <= set(properties)):
            return next(iter(properties)), condition
        return None


def merge_variants(schema: dict[str, Any]) -> dict[str, Any]:
    """`allOf` of plain property lists + `unevaluatedProperties: false` -> one object schema
    with `additionalProperties: false`: the same rule, checked in one pass instead of two.
    Returns `schema` unchanged when its parts are not that simple or declare a key twice."""
    parts = schema.get("allOf", [])
    if schema.get("unevaluatedProperties") is not False or "additionalProperties" in schema:
        return schema
    if "patternProperties" in schema or not all(
        isinstance(part, dict) and set(part) - _ANNOTATIONS <= _SIMPLE_VARIANT_KEYS
        for part in parts
    ):
        return schema
    properties = dict(schema.get("properties", {}))
    required = list(schema.get("required", []))
    patterns: dict[str, Any] = {}
    for part in parts:
        declared = part.get("properties", {})
        if declared.keys() & properties.keys():
            return schema
        properties.update(declared)
        required.extend(name for name in part.get("required", []) if name not in required)
        patterns.update(part.get("patternProperties", {}))
    merged = {key: value for key, value in schema.items()
              if key not in ("allOf", "unevaluatedProperties")}
    merged.update(properties=properties, required=required, additionalProperties=False)
    if patterns:
        merged["patternProperties"] = patterns
    return merged
