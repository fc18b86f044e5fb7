"""The entity and field designer (`/app/admin/entities/…`).

Admins create entities, add, edit, reorder, hide and delete fields and edit picklist
values. Each editor builds the complete new documents — the entity and the views it
touches — and shows them on the preview page (`changes.preview_change`): the migration
plan and the errors first, one metadata version when the admin applies. Nothing here
writes metadata itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask import render_template, request, url_for

from metacrm.kernel.errors import NotFound
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.designer import entity_forms as forms
from metacrm.web.designer import view_layout as layout
from metacrm.web.designer.changes import metadata_admin, preview_change
from metacrm.web.i18n import label, t
from metacrm.web.navigation import OTHER, group_label, group_names

web_designer_entities = screen_blueprint("web_designer_entities", __name__,
                                         url_prefix="/app/admin/entities")

FIRST_FIELD_EXCLUDED = frozenset({"picklist", "multi_picklist", "reference", "regarding", "state",
                                  "json"})
"""Types a new entity's first field cannot have (they need options, or cannot be a title)."""

Page = str | tuple[str, int]


# --- reading the live documents ----------------------------------------------------------
def live_bodies() -> list[dict[str, Any]]:
    """Every live document as a plain JSON object (copies: editors change them freely)."""
    _, documents = metadata_admin().live_documents()
    return [json.loads(json.dumps(document.body)) for document in documents]


def entity_body(bodies: Sequence[Mapping[str, Any]], name: str) -> dict[str, Any]:
    for body in bodies:
        if body.get("kind") == "entity" and body.get("name") == name:
            return dict(body)
    raise NotFound(t("There is no entity %(name)s.", name=name))


def existing_field(entity: Mapping[str, Any], name: str) -> dict[str, Any]:
    found = forms.find_field(entity, name)
    if found is None:
        raise NotFound(t("The entity has no field %(name)s.", name=name))
    return found


def type_options() -> dict[str, frozenset[str]]:
    """Field type name → the options its definitions take (from the field type registry)."""
    return {field_type.name: field_type.option_names for field_type in services().registry}


def type_labels() -> dict[str, str]:
    """Display names of the field types; a type an extension registers shows its name."""
    known = {
        "text": t("Text"), "textarea": t("Long text"), "email": t("Email"),
        "phone": t("Phone"), "url": t("Web address"), "integer": t("Whole number"),
        "decimal": t("Decimal number"), "money": t("Money"), "percent": t("Percent"),
        "boolean": t("Yes/no"), "date": t("Date"), "datetime": t("Date and time"),
        "picklist": t("Picklist"), "multi_picklist": t("Multi-select picklist"),
        "reference": t("Reference to a record"),
        "regarding": t("Link to a record of several entities"), "user": t("User"),
        "state": t("Pipeline state"), "auto_number": t("Auto number"), "json": t("JSON data"),
        "file": t("Files"),
    }
    return {name: known.get(name, name) for name in services().registry.names()}


def option_labels() -> dict[str, str]:
    return {
        "max_length": t("Maximum length"), "precision": t("Precision (total digits)"),
        "scale": t("Scale (digits after the point)"), "min": t("Minimum"),
        "max": t("Maximum"), "currency": t("Currency (ISO code, e.g. USD)"),
        "currencies": t("Allowed currencies (comma-separated)"),
        "default_region": t("Default country (ISO code, e.g. US)"),
        "entity": t("Target entity"), "on_delete": t("When the target record is deleted"),
        "entities": t("Entities it may link to (comma-separated names)"),
        "pipeline": t("Pipeline"), "prefix": t("Prefix"), "digits": t("Digits"),
        "start": t("First number"),
        "multiple": t("Several files (true or false)"),
        "max_size": t("Largest file (bytes)"),
        "accept": t("Allowed content types (comma-separated, e.g. application/pdf, image/*)"),
    }


def on_delete_labels() -> dict[str, str]:
    return {"set_null": t("Clear this field"), "restrict": t("Refuse the delete"),
            "cascade": t("Delete this record too")}


def refused(errors: Sequence[tuple[str, str]], *, title: str, back_url: str) -> Page:
    """The preview page listing errors found before planning (nothing can be applied)."""
    report = {"errors": [{"pointer": pointer, "message": message}
                         for pointer, message in errors]}
    return render_template("metacrm/designer/preview.html", title=title, report=report,
                           documents="[]", back_url=back_url, done_url=back_url,
                           comment=title, names=[]), 422


def entity_url(name: str) -> str:
    return url_for("web_designer_entities.entity_page", name=name)


# --- entities ----------------------------------------------------------------------------
@web_designer_entities.route("")
@admin_required
def entities() -> str:
    bodies = live_bodies()
    packs = {document.name: document.pack
             for document in metadata_admin().live_documents()[1] if document.kind == "entity"}
    rows = sorted(({"name": body["name"], "label": label(body.get("plural_label")
                                                             or body.get("label"), body["name"]),
                    "pack": packs.get(str(body["name"]), ""),
                    "fields": len(body.get("fields") or ())}
                   for body in bodies if body.get("kind") == "entity"),
                  key=lambda row: str(row["label"]).lower())
    return render_template("metacrm/designer/entities.html", rows=rows)


def _groups() -> list[tuple[str, str]]:
    """(name, label) of the navigation groups an entity may be listed under."""
    return [(name, group_label(name)) for name in group_names(services().metadata.live().model)]


@web_designer_entities.route("/new", methods=["GET", "POST"])
@admin_required
def new_entity() -> Page:
    first_types = {name: text for name, text in type_labels().items()
                   if name not in FIRST_FIELD_EXCLUDED}
    if request.method == "GET":
        return render_template("metacrm/designer/entity_new.html", types=first_types,
                               groups=_groups(),
                               values={"field_name": "title", "field_label_en": "Title",
                                       "field_label_ru": "Название", "field_type": "text",
                                       "field_required": "on", "group": OTHER})
    entity, form_view, list_view = forms.new_entity_bodies(request.form)
    name = str(entity["name"])
    title = t("New entity %(name)s", name=name)
    back = url_for("web_designer_entities.new_entity")
    existing = {(body.get("kind"), body.get("name")) for body in live_bodies()}
    taken = [(f"/{kind}/{doc}", t("A %(kind)s named %(name)s exists already; choose another "
                                  "name.", kind=kind, name=doc))
             for kind, doc in (("entity", name), ("view", form_view["name"]),
                               ("view", list_view["name"]))
             if name and (kind, doc) in existing]
    if taken:
        return refused(taken, title=title, back_url=back)
    return preview_change([entity, form_view, list_view], title=title, back_url=back,
                          done_url=entity_url(name) if name else back)


@web_designer_entities.route("/<name>")
@admin_required
def entity_page(name: str) -> str:
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    form_views = layout.views_of(bodies, name, "form")
    list_views = layout.views_of(bodies, name, "list")
    hidden = layout.hidden_fields(entity, form_views)
    listed = {column for view in list_views for column in view.get("columns") or ()}
    kinds = type_labels()
    visible = [item for item in layout.display_order(entity, form_views) if item not in hidden]
    rows = []
    for field_name in layout.display_order(entity, form_views):
        body = existing_field(entity, field_name)
        rows.append({
            "name": field_name, "label": label(body.get("label"), field_name),
            "type": body.get("type"), "type_label": kinds.get(str(body.get("type")),
                                                              body.get("type")),
            "required": bool(body.get("required")), "indexed": bool(body.get("indexed")
                                                                    or body.get("unique")),
            "hidden": field_name in hidden, "in_list": field_name in listed,
            "first": bool(visible) and field_name == visible[0],
            "last": bool(visible) and field_name == visible[-1],
            "choices": len(body.get("choices") or ()),
        })
    return render_template(
        "metacrm/designer/entity.html", name=name, entity=entity, rows=rows,
        entity_label=label(entity.get("label"), name),
        views=[view["name"] for view in [*form_views, *list_views]])


@web_designer_entities.route("/<name>/edit", methods=["GET", "POST"])
@admin_required
def edit_entity(name: str) -> Page:
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    if request.method == "GET":
        values = {"name": name, "title_field": entity.get("title_field", ""),
                  "title": entity.get("title", ""),
                  "group": entity.get("group", "")}
        for code in ("en", "ru"):
            values[f"label_{code}"] = (entity.get("label") or {}).get(code, "")
            values[f"plural_{code}"] = (entity.get("plural_label") or {}).get(code, "")
        return render_template("metacrm/designer/entity_edit.html", name=name, values=values,
                               groups=_groups(),
                               fields=forms.field_names(entity),
                               entity_label=label(entity.get("label"), name))
    changed = forms.entity_labels_changed(entity, request.form)
    return preview_change([changed], title=t("Edit entity %(name)s", name=name),
                          back_url=url_for("web_designer_entities.edit_entity", name=name),
                          done_url=entity_url(name))


# --- fields ------------------------------------------------------------------------------
def render_field_form(name: str, entity: Mapping[str, Any], bodies: Sequence[Mapping[str, Any]],
                      values: Mapping[str, str], *, editing: str | None) -> str:
    options = type_options()
    types = type_labels()
    current = values.get("type") or ""
    if current and current not in types:  # a computed field (formula, rollup) keeps its kind
        types[current] = current
    return render_template(
        "metacrm/designer/field_form.html", name=name, values=values, editing=editing,
        entity_label=label(entity.get("label"), name), types=types,
        options=[{"name": option.name, "label": option_labels().get(option.name, option.name),
                  "parse": option.parse,
                  "types": forms.types_offering(option.name, options)}
                 for option in forms.OPTION_INPUTS
                 if forms.types_offering(option.name, options)],
        choice_types=sorted(forms.CHOICE_TYPES),
        entities=sorted((str(body["name"]), label(body.get("label"), str(body["name"])))
                        for body in bodies if body.get("kind") == "entity"),
        pipelines=sorted(str(body["name"]) for body in bodies
                         if body.get("kind") == "pipeline" and body.get("entity") == name),
        on_delete=on_delete_labels())


@web_designer_entities.route("/<name>/fields/new", methods=["GET", "POST"])
@admin_required
def new_field(name: str) -> Page:
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    if request.method == "GET":
        return render_field_form(name, entity, bodies, {"type": "text"}, editing=None)
    field_type = (request.form.get("type") or "").strip()
    field = forms.field_body(request.form, option_names=type_options().get(field_type,
                                                                           frozenset()))
    field_name = str(field["name"])
    title = t("Add field %(field)s to %(entity)s", field=field_name, entity=name)
    back = url_for("web_designer_entities.new_field", name=name)
    if field_name and forms.find_field(entity, field_name) is not None:
        return refused([("/fields/name", t("The entity has a field %(name)s already.",
                                           name=field_name))], title=title, back_url=back)
    changed = {**entity, "fields": [*(entity.get("fields") or []), field]}
    views = layout.with_field_shown(layout.views_of(bodies, name, "form"),
                                    layout.views_of(bodies, name, "list"), field_name)
    return preview_change([changed, *views], title=title, back_url=back,
                          done_url=entity_url(name))


@web_designer_entities.route("/<name>/fields/<field_name>", methods=["GET", "POST"])
@admin_required
def edit_field(name: str, field_name: str) -> Page:
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    previous = existing_field(entity, field_name)
    if request.method == "GET":
        return render_field_form(name, entity, bodies, forms.field_form_values(previous),
                                 editing=field_name)
    field_type = (request.form.get("type") or "").strip()
    field = forms.field_body(request.form, previous=previous,
                             option_names=type_options().get(field_type, frozenset()))
    return preview_change([forms.replace_field(entity, field_name, field)],
                          title=t("Edit field %(field)s of %(entity)s", field=field_name,
                                  entity=name),
                          back_url=url_for("web_designer_entities.edit_field", name=name,
                                           field_name=field_name),
                          done_url=entity_url(name))


@web_designer_entities.route("/<name>/fields/<field_name>/delete", methods=["POST"])
@admin_required
def delete_field(name: str, field_name: str) -> Page:
    """Delete a field: its column is archived (the plan says so; applying needs the
    destructive confirmation), and it leaves the views, roles and pipelines naming it."""
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    existing_field(entity, field_name)
    views = [body for body in bodies if body.get("kind") == "view"
             and body.get("entity") == name]
    changed = [forms.replace_field(entity, field_name, None),
               *layout.without_field(views, field_name, drop_sort=True),
               *layout.field_references_removed(bodies, name, field_name)]
    return preview_change(changed, title=t("Delete field %(field)s of %(entity)s",
                                           field=field_name, entity=name),
                          back_url=entity_url(name), done_url=entity_url(name))


@web_designer_entities.route("/<name>/fields/<field_name>/hide", methods=["POST"])
@admin_required
def hide_field(name: str, field_name: str) -> Page:
    """Take a field off the entity's forms and lists; its data stays."""
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    existing_field(entity, field_name)
    form_views = layout.views_of(bodies, name, "form") or [layout.default_form(entity)]
    views = layout.without_field([*form_views, *layout.views_of(bodies, name, "list")],
                                 field_name)
    return preview_change(views, title=t("Hide field %(field)s of %(entity)s",
                                         field=field_name, entity=name),
                          back_url=entity_url(name), done_url=entity_url(name))


@web_designer_entities.route("/<name>/fields/<field_name>/show", methods=["POST"])
@admin_required
def show_field(name: str, field_name: str) -> Page:
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    existing_field(entity, field_name)
    views = layout.with_field_shown(layout.views_of(bodies, name, "form"),
                                    layout.views_of(bodies, name, "list"), field_name)
    title = t("Show field %(field)s of %(entity)s", field=field_name, entity=name)
    if not views:
        return refused([("/views", t("The field is shown already."))], title=title,
                       back_url=entity_url(name))
    return preview_change(views, title=title, back_url=entity_url(name),
                          done_url=entity_url(name))


@web_designer_entities.route("/<name>/order", methods=["POST"])
@admin_required
def reorder_fields(name: str) -> Page:
    """Rearrange the fields on the entity's views: `up`/`down` = a field name (the
    buttons), or `order` = every field name, comma-separated (drag and drop)."""
    bodies = live_bodies()
    entity = entity_body(bodies, name)
    form_views = layout.views_of(bodies, name, "form") or [layout.default_form(entity)]
    hidden = layout.hidden_fields(entity, form_views)
    order = [item for item in layout.display_order(entity, form_views) if item not in hidden]
    form = request.form
    if form.get("up"):
        order = layout.moved(order, form["up"], -1)
    elif form.get("down"):
        order = layout.moved(order, form["down"], 1)
    elif form.get("order"):
        wanted = [item.strip() for item in form["order"].split(",") if item.strip()]
        order = [item for item in wanted if item in order] + [
            item for item in order if item not in wanted]
    views = layout.reordered([*form_views, *layout.views_of(bodies, name, "list")], order)
    title = t("Reorder the fields of %(entity)s", entity=name)
    if not views:
        return refused([("/views", t("The order did not change."))], title=title,
                       back_url=entity_url(name))
    return preview_change(views, title=title, back_url=entity_url(name),
                          done_url=entity_url(name))
