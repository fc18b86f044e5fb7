"""Designer: list and form layouts (view documents) — columns, sort, filter; sections.

Every field of the entity is a row of the editor that sits either in a place (a list's
columns, a form's section) or in the "not shown" bucket; dragging, the up/down buttons and
the "move to" select only change which bucket a row is in and its hidden position, so the
posted form is the final arrangement whichever way it was made (ui/static/layouts.js).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request
from werkzeug.datastructures import MultiDict

from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.kernel.errors import NotFound
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.designer.changes import live_body, preview_change
from metacrm.web.designer.criteria_form import criteria_form, field_choices, read_criteria
from metacrm.web.designer.form_rows import FormRow, form_rows, is_refresh, labels_of
from metacrm.web.i18n import label, t

web_layouts = screen_blueprint("web_designer_layouts", __name__, url_prefix="/app/admin")

SHOWN = "shown"
VIEW_TYPES = ("list", "form")
MAX_SORT_KEYS = 3
SORTABLE_SYSTEM = ("id", "created_at", "updated_at")
Page = str | tuple[str, int]


@dataclass
class LayoutField:
    """A field row of the editor: where it is (a section key, SHOWN or "") and its label."""

    name: str
    label: str
    section: str


@dataclass
class LayoutSection:
    key: str
    label: Mapping[str, str]
    columns: int
    fields: list[LayoutField] = field(default_factory=list)


def live_model() -> CompiledModel:
    return services().metadata.live().model


@web_layouts.route("/layouts")
@admin_required
def layout_list() -> str:
    model = live_model()
    views = sorted(model.views.values(), key=lambda v: (v.entity, v.type, v.name))
    return render_template(
        "metacrm/designer/layouts.html", model=model, views=views,
        entities=sorted(model.entities.values(), key=lambda e: e.name))


@web_layouts.route("/layouts/new", methods=["GET", "POST"])
@admin_required
def new_layout() -> Page:
    model = live_model()
    entity = model.entity(str(request.values.get("entity") or ""))
    view_type = str(request.values.get("type") or "")
    if entity is None or view_type not in VIEW_TYPES:
        raise NotFound(t("Choose an entity and a layout type."))
    if request.method == "POST":
        return _submit(request.form, None, entity, view_type)
    name, number = f"{entity.name}_{view_type}", 2
    while name in model.views:
        name, number = f"{entity.name}_{view_type}_{number}", number + 1
    body: dict[str, Any] = {
        "kind": "view", "name": name, "version": 1, "entity": entity.name, "type": view_type,
        "label": labels_of(entity.plural_label.get("en", ""),
                           entity.plural_label.get("ru", ""), name)}
    if view_type == "list":
        body["columns"] = [f.name for f in entity.fields[:5]]
    else:
        body["sections"] = [{"label": dict(entity.label), "fields":
                             [f.name for f in entity.fields], "columns": 1}]
    return _editor(body, entity, new=True)


@web_layouts.route("/layouts/<name>", methods=["GET", "POST"])
@admin_required
def edit_layout(name: str) -> Page:
    body = live_body("view", name)
    if body is None:
        raise NotFound(t("There is no layout named %(name)s.", name=name))
    entity = live_model().entity(str(body.get("entity")))
    if entity is None:
        raise NotFound(t("The layout's entity does not exist."))
    if request.method == "POST":
        return _submit(request.form, body, entity, str(body.get("type")))
    return _editor(body, entity, new=False)


def _submit(form: MultiDict[str, str], live: dict[str, Any] | None, entity: EntityDef,
            view_type: str) -> Page:
    body = read_layout(form, live, entity, view_type)
    errors: dict[str, str] = {}
    if live is None:
        if not body["name"]:
            errors["name"] = t("Give the layout a name.")
        elif body["name"] in live_model().views:
            errors["name"] = t("A layout with this name exists already.")
    if errors or is_refresh(form):
        return _editor(body, entity, new=live is None, errors=errors)
    url = f"/app/admin/layouts/{body['name']}"
    back = url if live else f"/app/admin/layouts/new?entity={entity.name}&type={view_type}"
    return preview_change([body], title=t("Layout %(name)s", name=body["name"]),
                          back_url=back, done_url=url)


# --- form -> document ------------------------------------------------------------------

def read_layout(form: MultiDict[str, str], live: Mapping[str, Any] | None, entity: EntityDef,
                view_type: str) -> dict[str, Any]:
    """The view document the posted editor describes (the live one's other keys kept)."""
    body: dict[str, Any] = dict(live or {"kind": "view", "version": 1})
    name = str(live["name"]) if live else str(form.get("name") or "").strip()
    body.update(name=name, entity=entity.name, type=view_type,
                label=labels_of(form.get("label_en", ""), form.get("label_ru", ""), name))
    if view_type == "list":
        body["columns"] = [row.get("name") for row in form_rows(form, "col")
                           if row.get("section") == SHOWN and row.get("name")]
        sort = []
        for number in range(MAX_SORT_KEYS + 1):
            key = str(form.get(f"sort-{number}-field") or "").strip()
            if key:
                sort.append(f"-{key}" if form.get(f"sort-{number}-dir") == "desc" else key)
        _set_or_drop(body, "sort", list(dict.fromkeys(sort)))
        _set_or_drop(body, "filter", read_criteria(form, "filter", entity))
    else:
        body["sections"] = _sections(form)
    return body


def _set_or_drop(body: dict[str, Any], key: str, value: Any) -> None:
    if value:
        body[key] = value
    else:
        body.pop(key, None)


def _sections(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    rows = form_rows(form, "field", same_group=_same_section)
    sections: list[dict[str, Any]] = []
    for row in form_rows(form, "section"):
        if row.checked("remove"):
            continue
        key = row.get("key") or f"s{row.index}"
        names = [field_row.get("name") for field_row in rows
                 if field_row.get("section") == key and field_row.get("name")]
        if not names:
            continue
        number = len(sections) + 1
        columns = row.get("columns")
        section: dict[str, Any] = {
            "label": labels_of(row.get("label_en"), row.get("label_ru"), ""),
            "fields": names, "columns": int(columns) if columns.isdigit() else 1}
        if not section["label"]["en"]:
            section["label"] = {"en": f"Section {number}", "ru": f"Раздел {number}"}
        sections.append(section)
    return sections


def _same_section(first: FormRow, second: FormRow) -> bool:
    return first.get("section") == second.get("section")


# --- document -> form ------------------------------------------------------------------

def _field_label(entity: EntityDef, name: str) -> str:
    definition = entity.field(name) or SYSTEM_FIELDS.get(name)
    return label(definition.label, name) if definition is not None else name


def list_fields(entity: EntityDef, columns: list[str]) -> list[LayoutField]:
    """The list's columns in order, then every other field and system column."""
    names = [f.name for f in entity.fields] + list(SYSTEM_FIELDS)
    return ([LayoutField(n, _field_label(entity, n), SHOWN) for n in columns]
            + [LayoutField(n, _field_label(entity, n), "") for n in names if n not in columns])


def form_sections(entity: EntityDef, sections: list[Mapping[str, Any]]
                  ) -> tuple[list[LayoutSection], list[LayoutField]]:
    """The form's sections (plus an empty one to fill) and the fields on no section."""
    result, placed = [], set()
    for number, raw in enumerate([*sections, {"label": {}, "fields": [], "columns": 1}]):
        key = f"s{number}"
        names = [str(n) for n in raw.get("fields", [])]
        placed.update(names)
        result.append(LayoutSection(key, dict(raw.get("label") or {}),
                                    int(raw.get("columns") or 1),
                                    [LayoutField(n, _field_label(entity, n), key)
                                     for n in names]))
    rest = [LayoutField(f.name, label(f.label, f.name), "") for f in entity.fields
            if f.name not in placed]
    return result, rest


def sortable_fields(entity: EntityDef) -> list[tuple[str, str]]:
    leading = {index.fields[0] for index in entity.indexes if index.fields}
    names = [f.name for f in entity.fields
             if f.indexed or f.unique or f.name in leading or f.type == "reference"]
    return [(n, _field_label(entity, n)) for n in [*names, *SORTABLE_SYSTEM]]


def _editor(body: Mapping[str, Any], entity: EntityDef, *, new: bool,
            errors: Mapping[str, str] | None = None) -> Page:
    context: dict[str, Any] = {}
    if body.get("type") == "list":
        sort = [{"field": key.lstrip("-"), "dir": "desc" if key.startswith("-") else "asc"}
                for key in body.get("sort", [])]
        context.update(
            fields=list_fields(entity, [str(c) for c in body.get("columns", [])]),
            sort=[*sort, {"field": "", "dir": "asc"}][:MAX_SORT_KEYS + 1],
            sortable=sortable_fields(entity),
            filter=criteria_form("filter", body.get("filter"),
                                 field_choices(entity, services().registry)))
    else:
        sections, rest = form_sections(entity, list(body.get("sections", [])))
        context.update(sections=sections, rest=rest)
    page = render_template(
        "metacrm/designer/layout_edit.html", body=body, entity=entity, new=new,
        errors=errors or {}, shown=SHOWN, **context,
        action=(f"/app/admin/layouts/new?entity={entity.name}&type={body.get('type')}"
                if new else f"/app/admin/layouts/{body['name']}"))
    return (page, 422) if errors else page
