"""Which columns a list shows, how each is labelled, sorted and (maybe) edited in place.

Columns come from the list view's `columns` (metadata or a saved view), else the entity's
title field and its first fields. Only fields of the *visible* entity (the subject's field
security applied) and a few system columns can become columns, so a hidden field named by
a view is simply not shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from metacrm.access.field_security import FieldAccess
from metacrm.api.request_parsing import sortable_names
from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef, ViewDef
from metacrm.web.i18n import label, t

SYSTEM_COLUMNS = ("owner", "created_at", "updated_at", "created_by", "updated_by")
FALLBACK_COUNT = 6
NOT_LISTED = frozenset({"json", "textarea", "rich_text"})
EDITORS = {
    "text": "text", "email": "email", "phone": "tel", "url": "url",
    "integer": "number", "decimal": "number", "percent": "number",
    "picklist": "select", "date": "date", "boolean": "checkbox",
}
"""Field types edited in place, and the input each gets."""


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str
    sortable: bool
    editor: str | None = None
    """The inline editor (`EDITORS` value) when the subject may change this field."""
    choices: tuple[tuple[str, str], ...] = ()


def system_label(name: str) -> str:
    return {
        "owner": t("Owner"), "created_at": t("Created"), "updated_at": t("Updated"),
        "created_by": t("Created by"), "updated_by": t("Updated by"), "id": t("ID"),
    }.get(name, name)


def field_label(entity: EntityDef, name: str) -> str:
    fdef = entity.field(name)
    return label(fdef.label, name) if fdef is not None else system_label(name)


def list_views(model: CompiledModel, entity: str) -> list[ViewDef]:
    """The entity's list views in the metadata, the default (first by name) first."""
    return sorted((v for v in model.views.values() if v.entity == entity and v.type == "list"),
                  key=lambda view: view.name)


def column_names(entity: EntityDef, wanted: Iterable[str]) -> tuple[str, ...]:
    """The wanted names the entity (as visible) can show, in order, once each; the fallback
    columns when none is left."""
    known = set(entity.field_names) | set(SYSTEM_COLUMNS)
    kept: list[str] = []
    for name in wanted:
        if name in known and name not in kept:
            kept.append(name)
    return tuple(kept) or default_columns(entity)


def default_columns(entity: EntityDef) -> tuple[str, ...]:
    names = [entity.title_field] if entity.title_field and entity.has_field(
        entity.title_field) else []
    names += [f.name for f in entity.fields
              if f.name not in names and f.type not in NOT_LISTED]
    return (*names[:FALLBACK_COUNT], "owner")


def selectable_columns(entity: EntityDef) -> list[tuple[str, str]]:
    """(name, label) of everything the column chooser offers."""
    return [(f.name, label(f.label, f.name)) for f in entity.fields] + [
        (name, system_label(name)) for name in SYSTEM_COLUMNS]


def build_columns(
    entity: EntityDef, names: Sequence[str], registry: FieldTypeRegistry, *,
    may_update: bool, access: FieldAccess,
) -> list[Column]:
    sortable = set(sortable_names(entity, registry, unindexed=True))
    columns = []
    for name in names:
        fdef = entity.field(name) or SYSTEM_FIELDS.get(name)
        kind = fdef.type if fdef is not None else "text"
        editor = None
        if (may_update and entity.field(name) is not None and fdef is not None
                and not fdef.read_only and name not in access.read_only):
            editor = EDITORS.get(kind)
        columns.append(Column(
            name, field_label(entity, name), kind, name in sortable, editor,
            _choices(fdef) if editor == "select" and fdef is not None else ()))
    return columns


def _choices(fdef: FieldDef) -> tuple[tuple[str, str], ...]:
    return tuple((choice.value, label(choice.label, choice.value)) for choice in fdef.choices)


@dataclass(frozen=True)
class FilterField:
    """A field the filter builder offers, with its operators and suggested values."""

    name: str
    label: str
    operators: tuple[str, ...]
    suggestions: tuple[tuple[str, str], ...] = ()


OPERATOR_ORDER = ("eq", "ne", "contains", "starts_with", "gt", "gte", "lt", "lte", "between",
                  "in", "not_in", "is_null")


def operator_label(op: str) -> str:
    return {
        "eq": t("is"), "ne": t("is not"), "contains": t("contains"),
        "starts_with": t("starts with"), "gt": t("greater than"),
        "gte": t("at least"), "lt": t("less than"), "lte": t("at most"),
        "between": t("between (low,high)"), "in": t("one of (a,b,…)"),
        "not_in": t("none of (a,b,…)"), "is_null": t("is empty (true/false)"),
    }.get(op, op)


def filter_fields(
    model: CompiledModel, entity: EntityDef, registry: FieldTypeRegistry,
    users: Sequence[tuple[str, str]],
) -> list[FilterField]:
    """The visible fields and system columns one may filter on, with their operators."""
    found: list[FilterField] = []
    fields = [*entity.fields, *(SYSTEM_FIELDS[name] for name in
                                ("owner", "created_at", "updated_at"))]
    for fdef in fields:
        supported = fdef.operators or (registry.operators(fdef.type)
                                       if registry.has_type(fdef.type) else frozenset())
        ops = tuple(op for op in OPERATOR_ORDER if op in supported)
        ops += tuple(sorted(set(supported) - set(ops)))
        if not ops:
            continue
        found.append(FilterField(fdef.name, field_label(entity, fdef.name), ops,
                                 _suggestions(model, fdef, users)))
    return found


def filter_value_text(fields: Sequence[FilterField], field: str, value: str) -> str:
    """A filter row's value as the user reads it: choice and state codes as their labels
    (`won,lost` → "Won, Lost"); empty when the field has no labelled values."""
    found = next((item for item in fields if item.name == field), None)
    if found is None or not found.suggestions or not value:
        return ""
    labels = dict(found.suggestions)
    codes = [code.strip() for code in value.split(",") if code.strip()]
    if not any(code in labels for code in codes):
        return ""
    return ", ".join(labels.get(code, code) for code in codes)


def _suggestions(model: CompiledModel, fdef: FieldDef,
                 users: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    if fdef.type in ("picklist", "multi_picklist"):
        return _choices(fdef)
    if fdef.type == "state":
        pipeline = model.pipelines.get(str(fdef.option("pipeline") or ""))
        return tuple((s.name, label(s.label, s.name)) for s in pipeline.states) \
            if pipeline is not None else ()
    if fdef.type == "boolean":
        return (("true", t("Yes")), ("false", t("No")))
    if fdef.type == "user":
        return (("$user", t("Me")), *users)
    return ()
