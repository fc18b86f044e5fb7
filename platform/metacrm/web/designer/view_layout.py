"""Where an entity's fields appear: its form and list views, edited with the entity.

Hiding a field takes it out of the entity's views and keeps its column and data; showing
puts it back; reordering rearranges the views. The entity document itself is not touched,
so none of these changes the database schema. The *primary* form and list view of an
entity are `<entity>_form` / `<entity>_list` when they exist (the designer creates them
with a new entity), else the first view of that type by name.

Every function takes document bodies (plain dicts) and returns new ones; the caller hands
the changed ones to the preview.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Body = dict[str, Any]


def views_of(documents: Iterable[Mapping[str, Any]], entity: str, type_: str) -> list[Body]:
    """The entity's views of one type ("form" or "list"), primary first."""
    views = [copy.deepcopy(dict(body)) for body in documents
             if body.get("kind") == "view" and body.get("entity") == entity
             and body.get("type") == type_]
    primary = f"{entity}_{type_}"
    return sorted(views, key=lambda view: (view.get("name") != primary, view.get("name")))


def form_fields(view: Mapping[str, Any]) -> list[str]:
    """The fields of a form view, section after section."""
    return [str(name) for section in view.get("sections") or ()
            for name in section.get("fields") or ()]


def display_order(entity: Mapping[str, Any], forms: Sequence[Mapping[str, Any]]) -> list[str]:
    """The entity's fields in the order its primary form shows them, then the others."""
    names = [str(item.get("name")) for item in entity.get("fields") or ()]
    shown = [name for name in form_fields(forms[0]) if name in names] if forms else []
    return shown + [name for name in names if name not in shown]


def hidden_fields(entity: Mapping[str, Any], forms: Sequence[Mapping[str, Any]]) -> set[str]:
    """Fields on none of the entity's forms (none are hidden while it has no form view)."""
    if not forms:
        return set()
    on_forms = {name for view in forms for name in form_fields(view)}
    return {str(item.get("name")) for item in entity.get("fields") or ()} - on_forms


def default_form(entity: Mapping[str, Any]) -> Body:
    """A one-section form view of every field, for an entity that has none yet."""
    name = str(entity.get("name"))
    label = dict(entity.get("label") or {})
    return {"kind": "view", "name": f"{name}_form", "version": 1, "label": label,
            "entity": name, "type": "form",
            "sections": [{"label": label, "fields": display_order(entity, []),
                          "columns": 2}]}


def with_field_shown(forms: Sequence[Body], lists: Sequence[Body], field: str) -> list[Body]:
    """The primary form (last section) and list view (last column) with `field` added."""
    changed: list[Body] = []
    if forms and field not in form_fields(forms[0]):
        view = copy.deepcopy(forms[0])
        sections = view.setdefault("sections", [])
        if not sections:
            sections.append({"label": dict(view.get("label") or {}), "fields": []})
        sections[-1]["fields"] = [*sections[-1].get("fields", []), field]
        changed.append(view)
    if lists and field not in (lists[0].get("columns") or []):
        view = copy.deepcopy(lists[0])
        view["columns"] = [*view.get("columns", []), field]
        changed.append(view)
    return changed


def without_field(views: Iterable[Body], field: str, *, drop_sort: bool = False
                  ) -> list[Body]:
    """Every view that shows `field`, without it (empty sections are dropped; `drop_sort`:
    its sort keys too, for a field that is deleted)."""
    changed: list[Body] = []
    for original in views:
        view = copy.deepcopy(original)
        if view.get("type") == "form":
            sections = []
            for section in view.get("sections") or ():
                kept = [name for name in section.get("fields") or () if name != field]
                if kept:
                    sections.append({**section, "fields": kept})
            view["sections"] = sections
        else:
            view["columns"] = [name for name in view.get("columns") or () if name != field]
            if drop_sort and "sort" in view:
                view["sort"] = [key for key in view["sort"] if key.lstrip("-") != field]
                if not view["sort"]:
                    view.pop("sort")
        if view != original:
            changed.append(view)
    return changed


def moved(order: Sequence[str], field: str, step: int) -> list[str]:
    """`order` with `field` moved `step` places (-1: up, +1: down), kept within bounds."""
    result = list(order)
    if field not in result:
        return result
    index = result.index(field)
    target = max(0, min(len(result) - 1, index + step))
    result.insert(target, result.pop(index))
    return result


def rearranged(items: Sequence[str], order: Sequence[str]) -> list[str]:
    """`items` whose members named in `order` follow that order, each in one of their own
    slots; the others (system columns) stay where they are."""
    rank = {name: position for position, name in enumerate(order)}
    ranked = iter(sorted((name for name in items if name in rank), key=rank.__getitem__))
    return [next(ranked) if name in rank else name for name in items]


def reordered(views: Iterable[Body], order: Sequence[str]) -> list[Body]:
    """The views whose fields or columns change when the fields follow `order`. A form
    keeps its sections' sizes: a field moved past a section's end moves into the next."""
    changed: list[Body] = []
    for original in views:
        view = copy.deepcopy(original)
        if view.get("type") == "form":
            names = iter(rearranged(form_fields(view), order))
            for section in view.get("sections") or ():
                section["fields"] = [next(names) for _ in section.get("fields") or ()]
        else:
            view["columns"] = rearranged(view.get("columns") or [], order)
        if view != original:
            changed.append(view)
    return changed


def field_references_removed(documents: Iterable[Mapping[str, Any]], entity: str,
                             field: str) -> list[Body]:
    """Roles' field security and pipelines' required fields without a deleted field."""
    changed: list[Body] = []
    for original in documents:
        body = copy.deepcopy(dict(original))
        if body.get("kind") == "role":
            grant = (body.get("entities") or {}).get(entity)
            if isinstance(grant, dict) and field in (grant.get("fields") or {}):
                grant["fields"] = {k: v for k, v in grant["fields"].items() if k != field}
                if not grant["fields"]:
                    grant.pop("fields")
        elif body.get("kind") == "pipeline" and body.get("entity") == entity:
            for transition in body.get("transitions") or ():
                if field in (transition.get("required_fields") or ()):
                    transition["required_fields"] = [
                        name for name in transition["required_fields"] if name != field]
                    if not transition["required_fields"]:
                        transition.pop("required_fields")
        if body != original:
            changed.append(body)
    return changed
