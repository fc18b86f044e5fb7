"""Turn jsonschema's validation errors into readable `ErrorDetail`s with JSON Pointers.

jsonschema's own messages ("Unevaluated properties are not allowed ('lenght' was
unexpected)") are written for schema authors. A business admin who mistyped a key wants
"unknown property 'lenght' (did you mean 'length'?)" pointing at the key itself, so each
keyword gets its own wording here.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import best_match

from metacrm.kernel.errors import ErrorDetail

PATTERN_REASONS: Mapping[str, str] = {
    "^[a-z][a-z0-9_]*$": (
        "is not a valid name: use lower-case letters a-z, digits and _, starting with a letter"
    ),
    "^-?[a-z][a-z0-9_]*$": "is not a field name, optionally preceded by - for descending order",
    "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$": "is not a language code such as en, ru or pt-BR",
    "^#[0-9a-fA-F]{6}$": "is not a colour of the form #rrggbb",
    "^[A-Z]{3}$": "is not a three-letter ISO 4217 currency code such as USD",
    "^[A-Z]{2}$": "is not a two-letter ISO 3166 country code such as US",
    "^-?[0-9]+(\\.[0-9]+)?$": "is not a decimal number such as 12.50",
    "^\\S+( \\S+){4}$": "is not a five-field cron expression such as '0 9 * * 1'",
    "^[A-Za-z0-9][A-Za-z0-9_.-]*$": (
        "is not a valid choice value: letters, digits, _ . - only (no spaces or ';')"
    ),
    "^[^\\t\\n\\r\\f\\v]*$": "must not contain tabs or line breaks",
}

_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


def json_pointer(path: Iterable[str | int]) -> str:
    """RFC 6901 pointer of a path: `/fields/3/type`."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def short_json(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a candidate is close to `word`, else ``."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.7)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


KnownKeys = Callable[[Mapping[str, Any], Any], set[str]]
"""(schema, instance) -> the keys the schema evaluates (for unevaluatedProperties)."""
Variants = Callable[[Mapping[str, Any]], tuple[str, frozenset[str]] | None]
"""schema -> (discriminating property, keys that only some variants allow), if any."""


class ErrorTranslator:
    """Translates jsonschema errors into details; `known_keys` and `variants` tell it which
    keys a schema accepts (see `schema_keys`), for messages about unknown keys."""

    def __init__(self, known_keys: KnownKeys, variants: Variants) -> None:
        self._known_keys = known_keys
        self._variants = variants

    def details(
        self, errors: Iterable[ValidationError], *, prefix: Sequence[str | int] = (), source: str
    ) -> list[ErrorDetail]:
        result: list[ErrorDetail] = []
        for error in errors:
            for pointer, message in self._translate(error):
                detail = ErrorDetail(message, json_pointer([*prefix]) + pointer, source)
                if detail not in result:
                    result.append(detail)
        return result

    def _translate(self, error: ValidationError) -> list[tuple[str, str]]:
        pointer = json_pointer(error.absolute_path)
        keyword = str(error.validator)
        instance = error.instance
        value: Any = error.validator_value
        schema: Any = error.schema
        if "propertyNames" in error.relative_schema_path:
            return [(pointer, f"property name {self._message(error, keyword, instance, value)}")]
        if keyword == "required":
            return [
                (pointer, f"missing required property '{name}'")
                for name in value
                if isinstance(instance, dict) and name not in instance
            ]
        if keyword == "additionalProperties" and value is False:
            return self._unknown_keys(error, self._declared_keys(schema, instance), pointer)
        if keyword == "unevaluatedProperties" and value is False:
            return self._unknown_keys(error, self._known_keys(schema, instance), pointer)
        if keyword in ("anyOf", "oneOf") and error.context:
            return self._alternatives(error, pointer)
        return [(pointer, self._message(error, keyword, instance, value))]

    @staticmethod
    def _declared_keys(schema: Mapping[str, Any], instance: Any) -> set[str]:
        declared = set(schema.get("properties", {}))
        patterns = schema.get("patternProperties", {})
        return declared | {k for k in instance if any(re.search(p, k) for p in patterns)}

    def _unknown_keys(
        self, error: ValidationError, known: set[str], pointer: str
    ) -> list[tuple[str, str]]:
        instance = error.instance
        if not isinstance(instance, dict):
            return [(pointer, error.message)]
        unknown = [key for key in instance if key not in known]
        if not unknown:
            # The keys are declared by a variant that failed for another reason, reported
            # on its own; jsonschema then also counts them as unevaluated.
            return []
        schema: Any = error.schema
        variants = self._variants(schema)
        found: list[tuple[str, str]] = []
        for key in unknown:
            key_pointer = pointer + json_pointer([key])
            if variants is not None and key in variants[1] and variants[0] not in instance:
                continue  # the missing discriminator is reported; it decides this key
            if variants is not None and key in variants[1]:
                discriminator = variants[0]
                found.append((key_pointer, f"property '{key}' does not apply when "
                              f"{discriminator} is {short_json(instance[discriminator])}"))
            else:
                candidates = known | (variants[1] if variants else frozenset())
                found.append((key_pointer, f"unknown property '{key}'"
                              + did_you_mean(key, candidates)))
        return found

    def _alternatives(self, error: ValidationError, pointer: str) -> list[tuple[str, str]]:
        # An alternative that failed on something other than the value's type or identity
        # is the one the author meant: report why it failed.
        meant = [
            sub for sub in error.context or ()
            if sub.relative_path or sub.validator not in ("type", "const", "enum")
        ]
        if meant:
            return self._translate(best_match(meant))
        alternatives: Any = error.validator_value
        expected = " or ".join(_describe(schema) for schema in alternatives)
        return [(pointer, f"{short_json(error.instance)} is not valid here: expected {expected}")]

    def _message(self, error: ValidationError, keyword: str, instance: Any, value: Any) -> str:
        shown = short_json(instance)
        if keyword == "type":
            wanted = [value] if isinstance(value, str) else list(value)
            names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
            return f"expected {names}, got {_TYPE_NAMES.get(json_type(instance), 'null')}"
        if keyword == "enum":
            options = ", ".join(short_json(option) for option in value)
            hint = did_you_mean(instance, map(str, value)) if isinstance(instance, str) else ""
            return f"{shown} is not one of {options}{hint}"
        if keyword == "const":
            return f"{shown} is not allowed here: expected {short_json(value)}"
        if keyword == "pattern":
            reason = PATTERN_REASONS.get(value, f"does not match the pattern {value}")
            return f"{shown} {reason}"
        if keyword in ("minLength", "minItems", "minProperties") and value == 1:
            return "must not be empty"
        if keyword == "minLength":
            return f"{shown} is too short: at least {value} characters"
        if keyword == "maxLength":
            return f"{shown} is too long: at most {value} characters"
        if keyword == "minItems":
            return f"must have at least {value} items"
        if keyword == "maxItems":
            return f"must have at most {value} item{'s' if value != 1 else ''}"
        if keyword == "maxProperties":
            return f"must have at most {value} propert{'ies' if value != 1 else 'y'}"
        if keyword == "minProperties":
            return f"must have at least {value} properties"
        if keyword == "minimum":
            return f"{shown} is less than the minimum {value}"
        if keyword == "maximum":
            return f"{shown} is greater than the maximum {value}"
        if keyword == "uniqueItems":
            return f"items must be unique: {_first_duplicate(instance)} appears more than once"
        if keyword == "False schema":
            return "not allowed here"
        return error.message


def _describe(schema: Any) -> str:
    if isinstance(schema, dict):
        if "const" in schema:
            return short_json(schema["const"])
        if "enum" in schema:
            return " or ".join(short_json(v) for v in schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, str):
            return _TYPE_NAMES.get(kind, kind)
    return "a different value"


def _first_duplicate(items: Any) -> str:
    seen: list[Any] = []
    for item in items if isinstance(items, list) else ():
        if item in seen:
            return short_json(item)
        seen.append(item)
    return "a value"
