"""The visual condition builder: rows of field / operator / value, grouped one level deep.

Trigger conditions, pipeline guards, role rules and list filters are criteria trees
(docs/metadata.md, "Criteria language"). The builder shows a tree as top-level rows plus
groups of rows, each joined by "all" (and) or "any" (or), and reads the posted rows back
into a tree. Values are read the way the API reads `filter[field][op]=value` parameters
(comma-separated lists, true/false for is_null, relative dates as JSON); whether they fit
the field is left to the metadata compiler, whose errors the preview page lists. A tree the
builder cannot show (a `not`, deeper nesting) is edited as JSON instead.

Input names: `<p>-match`, `<p>-r<j>-field|op|value` (top rows), `<p>-g<i>-match`,
`<p>-g<i>-r<j>-field|op|value` (groups), `<p>-json` in JSON mode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metacrm.criteria.tree import OPERATORS, SYSTEM_FIELDS
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef, FieldDef
from metacrm.web.i18n import label, t
from metacrm.web.list_columns import system_label

MATCHES = ("and", "or")
LIST_OPERATORS = frozenset({"in", "not_in", "between"})
RELATIVE_TYPES = frozenset({"date", "datetime"})
_INTEGER = re.compile(r"^-?\d{1,18}$")
_ROW = re.compile(r"^r(\d+)-(field|op|value)$")
_GROUP_ROW = re.compile(r"^g(\d+)-r(\d+)-(field|op|value)$")


def operator_labels() -> dict[str, str]:
    """Operators in the order the select lists them, with their names on screen."""
    return {
        "eq": t("equals"), "ne": t("does not equal"), "gt": t("greater than"),
        "gte": t("at least"), "lt": t("less than"), "lte": t("at most"),
        "between": t("between (low, high)"), "in": t("is one of (a, b, …)"),
        "not_in": t("is none of (a, b, …)"), "contains": t("contains"),
        "starts_with": t("starts with"), "is_null": t("is empty (true/false)"),
    }


@dataclass(frozen=True)
class FieldChoice:
    name: str
    label: str
    operators: tuple[str, ...]


@dataclass
class CriteriaRow:
    field: str = ""
    op: str = "eq"
    value: str = ""


@dataclass
class CriteriaGroup:
    match: str = "and"
    rows: list[CriteriaRow] = field(default_factory=list)


@dataclass
class CriteriaForm:
    """What the builder macro (designer/criteria.html) renders."""

    prefix: str
    fields: list[FieldChoice]
    match: str = "and"
    rows: list[CriteriaRow] = field(default_factory=list)
    groups: list[CriteriaGroup] = field(default_factory=list)
    json_text: str | None = None
    """Set when the tree cannot be shown as rows: the builder shows a JSON textarea."""

    @property
    def operators(self) -> dict[str, str]:
        return operator_labels()

    @property
    def blank(self) -> CriteriaRow:
        """The empty row after the filled ones (ignored until a field is chosen)."""
        return CriteriaRow()

    @property
    def blank_group(self) -> CriteriaGroup:
        return CriteriaGroup()


def field_choices(entity: EntityDef | None, registry: FieldTypeRegistry) -> list[FieldChoice]:
    """The entity's fields, then the system columns, with the operators each supports."""
    if entity is None:
        return []
    choices = [FieldChoice(f.name, label(f.label, f.name), _operators(f, registry))
               for f in entity.fields]
    choices += [FieldChoice(name, system_label(name), _operators(f, registry))
                for name, f in SYSTEM_FIELDS.items()]
    return choices


def _operators(definition: FieldDef, registry: FieldTypeRegistry) -> tuple[str, ...]:
    found = definition.operators
    if not found and registry.has_type(definition.type):
        found = registry.operators(definition.type)
    return tuple(sorted(found or OPERATORS))


# --- tree -> form --------------------------------------------------------------------

def criteria_form(prefix: str, tree: Any, fields: list[FieldChoice]) -> CriteriaForm:
    """The builder showing `tree` (None: no condition yet)."""
    form = CriteriaForm(prefix, fields)
    if tree is None:
        return form
    top = _combinator(tree)
    if top is None:
        if _is_leaf(tree):
            form.rows.append(_row(tree))
            return form
        form.json_text = json.dumps(tree, ensure_ascii=False, indent=2)
        return form
    form.match = top
    for child in tree[top]:
        inner = _combinator(child)
        if _is_leaf(child):
            form.rows.append(_row(child))
        elif inner is not None and all(_is_leaf(leaf) for leaf in child[inner]):
            form.groups.append(CriteriaGroup(inner, [_row(leaf) for leaf in child[inner]]))
        else:
            return CriteriaForm(prefix, fields,
                                json_text=json.dumps(tree, ensure_ascii=False, indent=2))
    return form


def _combinator(tree: Any) -> str | None:
    if isinstance(tree, Mapping) and len(tree) == 1:
        key = next(iter(tree))
        if key in MATCHES and isinstance(tree[key], list) and tree[key]:
            return str(key)
    return None


def _is_leaf(tree: Any) -> bool:
    return (isinstance(tree, Mapping) and set(tree) == {"field", "op", "value"}
            and isinstance(tree["field"], str) and isinstance(tree["op"], str))


def _row(leaf: Mapping[str, Any]) -> CriteriaRow:
    return CriteriaRow(str(leaf["field"]), str(leaf["op"]), value_text(leaf["value"]))


def value_text(value: Any) -> str:
    """A criteria operand as the value input shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if any(isinstance(item, (dict, list)) or (isinstance(item, str) and "," in item)
               for item in value):
            return json.dumps(value, ensure_ascii=False)
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- form -> tree --------------------------------------------------------------------

def read_criteria(form: Mapping[str, str], prefix: str, entity: EntityDef | None) -> Any:
    """The tree the posted builder describes (None when it has no rows).

    Returns the text as posted when the JSON textarea does not hold JSON, so the compiler
    reports it on the preview page like any other mistake."""
    if f"{prefix}-json" in form:
        text = str(form.get(f"{prefix}-json") or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text
    top: dict[int, dict[str, str]] = {}
    groups: dict[int, dict[int, dict[str, str]]] = {}
    start = f"{prefix}-"
    for name in form:
        if not name.startswith(start):
            continue
        rest = name[len(start):]
        if found := _ROW.match(rest):
            top.setdefault(int(found[1]), {})[found[2]] = str(form.get(name) or "")
        elif found := _GROUP_ROW.match(rest):
            group = groups.setdefault(int(found[1]), {})
            group.setdefault(int(found[2]), {})[found[3]] = str(form.get(name) or "")
    children = [leaf for _, row in sorted(top.items())
                if (leaf := _leaf(row, entity)) is not None]
    for number, rows in sorted(groups.items()):
        leaves = [leaf for _, row in sorted(rows.items())
                  if (leaf := _leaf(row, entity)) is not None]
        match = _match(form.get(f"{prefix}-g{number}-match"))
        if len(leaves) == 1:
            children.append(leaves[0])
        elif leaves:
            children.append({match: leaves})
    if not children:
        return None
    if len(children) == 1:
        return children[0]
    return {_match(form.get(f"{prefix}-match")): children}


def _match(value: Any) -> str:
    return "or" if value == "or" else "and"


def _leaf(row: Mapping[str, str], entity: EntityDef | None) -> dict[str, Any] | None:
    name = row.get("field", "").strip()
    if not name:
        return None
    op = row.get("op", "eq").strip() or "eq"
    definition = None
    if entity is not None:
        definition = entity.field(name) or SYSTEM_FIELDS.get(name)
    type_name = definition.type if definition is not None else ""
    return {"field": name, "op": op, "value": parse_value(op, row.get("value", ""), type_name)}


def parse_value(op: str, text: str, type_name: str) -> Any:
    """The operand of `op` from the value input (see the module docstring)."""
    text = text.strip()
    if op == "is_null":
        word = text.lower()
        if word in ("", "true", "yes", "1"):
            return True
        if word in ("false", "no", "0"):
            return False
        return text
    if op in LIST_OPERATORS:
        if text == "$team" and op != "between":
            return text
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                return text
        return [_scalar(item.strip(), type_name) for item in text.split(",") if item.strip()]
    return _scalar(text, type_name)


def _scalar(text: str, type_name: str) -> Any:
    if type_name in RELATIVE_TYPES and text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    if type_name == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if type_name == "integer" and _INTEGER.match(text):
        return int(text)
    return text
