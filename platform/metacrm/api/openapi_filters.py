"""How filters are described in the OpenAPI document: one `filter[<field>][<op>]` value, and
the criteria tree of `filter=<JSON>` and of a query body — each exactly what
`api.request_parsing` and the criteria checker accept (issue 11: the document allowed
values the server refused)."""

from __future__ import annotations

import json
from typing import Any

from metacrm.api.request_parsing import MAX_CURSOR_LENGTH
from metacrm.criteria.tree import MAX_LIST_VALUES, MAX_NODES, SYSTEM_FIELDS
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef, FieldDef

Schema = dict[str, Any]

CURSOR = {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH,
          "pattern": "^[A-Za-z0-9_-]+={0,2}$"}
NO_NUL = "^[^\\x00]*$"
NON_BLANK = "^[^\\x00]*[^\\s\\x00\\x1c-\\x1f\\x85][^\\x00]*$"
"""Text a filter compares with: not blank (blank means no value: use is_null), no NUL.

Blank is what the server strips (Python's `str.isspace`), which counts the separators
U+001C..U+001F and U+0085 as well: ECMA-262's `\\s`, which a client's validator may use,
does not, so they are listed explicitly."""


def criteria_schema(entity: EntityDef, registry: FieldTypeRegistry, own: Schema) -> Schema:
    """A criteria tree over `entity` (`own` refers to this schema): and/or/not nodes, and
    one leaf shape per field and group of operators taking the same kind of value."""
    leaves: list[Schema] = []
    for field in (*SYSTEM_FIELDS.values(), *entity.fields):
        if not registry.has_type(field.type):
            continue
        groups: dict[str, list[str]] = {}
        for op in sorted(field.operators or registry.operators(field.type)):
            value = json.dumps(filter_value_schema(field, op, registry), sort_keys=True)
            groups.setdefault(value, []).append(op)
        leaves += [
            {"type": "object", "required": ["field", "op", "value"],
             "additionalProperties": False,
             "properties": {"field": {"const": field.name}, "op": {"enum": ops},
                            "value": json.loads(value)}}
            for value, ops in groups.items()
        ]
    items = {"type": "array", "minItems": 1, "maxItems": MAX_NODES - 1, "items": own}
    return {
        "description": "A criteria tree (docs/metadata.md, criteria language) over the "
                       f"entity's fields and system columns: at most {MAX_NODES} nodes, "
                       f"{MAX_LIST_VALUES} values per in/not_in.",
        "anyOf": [
            {"type": "object", "required": ["and"], "additionalProperties": False,
             "properties": {"and": items}},
            {"type": "object", "required": ["or"], "additionalProperties": False,
             "properties": {"or": items}},
            {"type": "object", "required": ["not"], "additionalProperties": False,
             "properties": {"not": own}},
            *leaves,
        ],
    }


def filter_value_schema(field: FieldDef, op: str, registry: FieldTypeRegistry) -> Schema:
    """The value of a filter on `field` with `op`, as the query string or a criteria tree
    writes it (docs/api.md, "Lists")."""
    if op == "is_null":
        return {"type": "boolean"}
    if op in ("contains", "starts_with") and field.type != "multi_picklist":
        return {"type": "string", "minLength": 1, "pattern": NO_NUL}
    scalar = scalar_filter_schema(field, registry)
    if op in ("in", "not_in"):
        return {"type": "array", "minItems": 1, "maxItems": MAX_LIST_VALUES, "items": scalar}
    if op == "between":
        return {"type": "array", "minItems": 2, "maxItems": 2, "items": scalar}
    return scalar


NO_COMMA: Schema = {"pattern": "^[^,]*$"}
"""A value of a list operator in the query string: the list is comma-separated, so no value
holds a comma (a criteria tree in `filter=<JSON>` or a query body takes any)."""


def query_filter_value_schema(field: FieldDef, op: str, registry: FieldTypeRegistry) -> Schema:
    """`filter_value_schema` as one `filter[<field>][<op>]` parameter writes it: the values
    of `in`, `not_in` and `between` joined by commas, so none of them holds one."""
    schema = filter_value_schema(field, op, registry)
    items = schema.get("items") if schema.get("type") == "array" else None
    if items is None or "enum" in items or items.get("type") in ("integer", "boolean"):
        return schema  # no text in it (choices are names, which hold no comma)
    return {**schema, "items": {"allOf": [items, NO_COMMA]}}


VARIABLES = {"date": ("$today",), "datetime": ("$now", "$today"), "user": ("$user",)}
VARIABLE_NAMES = ("$user", "$team", "$now", "$today")
_KEPT_KEYWORDS = ("type", "format", "pattern", "enum", "maxLength")


def scalar_filter_schema(field: FieldDef, registry: FieldTypeRegistry) -> Schema:
    """How one filter value is written in the query string: the field's value schema (a
    money field compares its amount), or a variable such as `$today` where one applies."""
    if field.type == "integer":
        bounds = registry.get(field.type).value_schema(field)
        return {"type": "integer", **{key: bounds[key] for key in ("minimum", "maximum")
                                      if key in bounds}}
    if field.type == "boolean":
        return {"type": "boolean"}
    if field.choices:
        return {"type": "string", "enum": list(field.choice_values)}
    value = registry.get(field.type).value_schema(field)
    amount = value.get("properties", {}).get("amount") if value.get("type") == "object" else None
    if amount is not None:
        value = amount
    if value.get("type") != "string":
        return {"type": "string", "minLength": 1}
    scalar = {key: value[key] for key in _KEPT_KEYWORDS if key in value}
    scalar.setdefault("minLength", 1)
    if "enum" not in scalar:
        scalar.setdefault("pattern", NON_BLANK)
        # a variable's name is never read as text: "$today" is today or refused
        scalar["not"] = {"enum": list(VARIABLE_NAMES)}
    variables = VARIABLES.get(field.type)
    if variables:
        return {"anyOf": [scalar, {"type": "string", "enum": list(variables)}]}
    return scalar
