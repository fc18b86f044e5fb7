"""Designer: a form for an action's parameters, rendered from the action's JSON Schema.

Extension packs register actions with a parameter schema (`ctx.register_action`). When
the schema is simple — an object whose properties are strings, numbers, integers, booleans
or enumerations — the trigger editor shows one input per property (`action-<i>-param_<name>`)
instead of a JSON text box; anything else keeps the JSON box. What the inputs give is
turned into typed values here; the schema itself is checked when the change is previewed
(the action's `check`), so an out-of-range number is listed there with its pointer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.web.designer.form_rows import FormRow
from metacrm.web.i18n import t

PARAM_PREFIX = "param_"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SIMPLE_TYPES = frozenset({"string", "number", "integer", "boolean"})


@dataclass(frozen=True)
class ParamInput:
    """One parameter's input."""

    name: str
    label: str
    kind: str
    """`text`, `number`, `integer`, `checkbox` or `select`."""
    value: str
    choices: tuple[str, ...] = ()
    required: bool = False
    help: str = ""


def _kind(prop: Mapping[str, Any]) -> str | None:
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        return "select"
    kind = prop.get("type")
    if kind not in SIMPLE_TYPES:
        return None
    return {"string": "text", "number": "number", "integer": "integer",
            "boolean": "checkbox"}[str(kind)]


def simple_properties(schema: Mapping[str, Any] | None
                      ) -> dict[str, tuple[str, Mapping[str, Any]]] | None:
    """name -> (input kind, property schema) when a form can stand for `schema`."""
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        return None
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return None
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for name, prop in properties.items():
        kind = _kind(prop) if isinstance(prop, Mapping) else None
        if kind is None or not NAME.match(str(name)):
            return None
        found[str(name)] = (kind, prop)
    return found


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "checkbox":
        return "on" if value is True else ""
    return str(value)


def param_inputs(schema: Mapping[str, Any] | None, params: Mapping[str, Any]
                 ) -> list[ParamInput] | None:
    """The inputs of a simple schema filled with `params` (None: not a simple schema)."""
    properties = simple_properties(schema)
    if properties is None or schema is None:
        return None
    required = set(schema.get("required") or ())
    return [
        ParamInput(name=name, label=str(prop.get("title") or name), kind=kind,
                   value=_text(params.get(name, prop.get("default")), kind),
                   choices=tuple(prop.get("enum") or ()), required=name in required,
                   help=str(prop.get("description") or ""))
        for name, (kind, prop) in properties.items()
    ]


def posted_inputs(row: FormRow) -> bool:
    """Whether the row was posted with parameter inputs (not the JSON box)."""
    return any(key.startswith(PARAM_PREFIX) for key in row.values)


def read_params(schema: Mapping[str, Any], row: FormRow) -> tuple[dict[str, Any], str]:
    """The params the row's inputs give, and an error message ('' when readable)."""
    properties = simple_properties(schema) or {}
    params: dict[str, Any] = {}
    wrong: list[str] = []
    for name, (kind, _prop) in properties.items():
        key = PARAM_PREFIX + name
        if kind == "checkbox":
            params[name] = row.checked(key)
            continue
        text = row.get(key)
        if not text:
            continue
        if kind == "integer":
            try:
                params[name] = int(text)
            except ValueError:
                wrong.append(name)
        elif kind == "number":
            try:
                number = float(text)
                params[name] = int(number) if number.is_integer() and "." not in text \
                    else number
            except ValueError:
                wrong.append(name)
        else:
            params[name] = text
    error = t("These parameters must be numbers: %(names)s.", names=", ".join(wrong)) \
        if wrong else ""
    return params, error
