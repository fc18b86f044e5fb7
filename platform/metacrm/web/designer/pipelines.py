"""Designer: pipelines — states, their order, transitions with guards and roles.

The editor is one form over the whole pipeline document; saving builds the new document
(and, for a pipeline whose entity has no state field for it yet, the entity with a `state`
field added — both in one change) and shows the preview. Renaming a state in the form
also renames it in the transitions and the initial state, because the rows remember the
name they were loaded with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import render_template, request
from werkzeug.datastructures import MultiDict

from metacrm.kernel.errors import NotFound
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.designer.changes import live_body, preview_change
from metacrm.web.designer.criteria_form import criteria_form, field_choices, read_criteria
from metacrm.web.designer.form_rows import (
    FormRow,
    choice_list,
    form_rows,
    is_refresh,
    labels_of,
)
from metacrm.web.i18n import label, t

web_pipelines = screen_blueprint("web_designer_pipelines", __name__, url_prefix="/app/admin")

CATEGORIES = ("open", "won", "lost")
STATE_FIELD_LABEL = {"en": "State", "ru": "Состояние"}
Page = str | tuple[str, int]


def live_model() -> CompiledModel:
    return services().metadata.live().model


@web_pipelines.route("/pipelines")
@admin_required
def pipeline_list() -> str:
    model = live_model()
    pipelines = sorted(model.pipelines.values(), key=lambda p: (p.entity, p.name))
    entities = sorted(model.entities.values(), key=lambda e: e.name)
    return render_template("metacrm/designer/pipelines.html", pipelines=pipelines,
                           entities=entities, model=model)


@web_pipelines.route("/pipelines/new", methods=["GET", "POST"])
@admin_required
def new_pipeline() -> Page:
    model = live_model()
    entity_name = str(request.values.get("entity") or "")
    entity = model.entity(entity_name)
    if entity is None:
        raise NotFound(t("Choose an entity for the new pipeline."))
    if request.method == "GET":
        name = _free_name(model, f"{entity.name}_pipeline")
        body = {"kind": "pipeline", "name": name, "version": 1,
                "label": labels_of(entity.label.get("en", ""), entity.label.get("ru", ""),
                                   name),
                "entity": entity.name, "states": [], "transitions": []}
        return _editor(body, entity, new=True)
    return _submit(request.form, None, entity, new=True)


@web_pipelines.route("/pipelines/<name>", methods=["GET", "POST"])
@admin_required
def edit_pipeline(name: str) -> Page:
    body = live_body("pipeline", name)
    if body is None:
        raise NotFound(t("There is no pipeline named %(name)s.", name=name))
    entity = live_model().entity(str(body.get("entity")))
    if entity is None:
        raise NotFound(t("The pipeline's entity does not exist."))
    if request.method == "GET":
        return _editor(body, entity, new=False)
    return _submit(request.form, body, entity, new=False)


def _free_name(model: CompiledModel, wanted: str) -> str:
    name, number = wanted, 2
    while name in model.pipelines:
        name, number = f"{wanted}_{number}", number + 1
    return name


def _submit(form: MultiDict[str, str], live: dict[str, Any] | None, entity: EntityDef,
            *, new: bool) -> Page:
    body = read_pipeline(form, live, entity, drafts=is_refresh(form))
    errors: dict[str, str] = {}
    if new:
        if not body["name"]:
            errors["name"] = t("Give the pipeline a name.")
        elif body["name"] in live_model().pipelines:
            errors["name"] = t("A pipeline with this name exists already.")
    if errors or is_refresh(form):
        return _editor(body, entity, new=new, errors=errors)
    bodies = [body, *state_field_change(entity, body["name"])]
    url = f"/app/admin/pipelines/{body['name']}"
    back = f"/app/admin/pipelines/new?entity={entity.name}" if new else url
    return preview_change(bodies, title=t("Pipeline %(name)s", name=body["name"]),
                          back_url=back, done_url=url)


def state_field_change(entity: EntityDef, pipeline: str) -> list[dict[str, Any]]:
    """The entity with a state field added when none holds `pipeline` yet (else nothing)."""
    if any(f.type == "state" and f.option("pipeline") == pipeline for f in entity.fields):
        return []
    body = live_body("entity", entity.name)
    if body is None:
        return []
    taken = {str(f.get("name")) for f in body.get("fields", [])}
    name, number = "state", 2
    while name in taken or f"{name}_currency" in taken:
        name, number = f"state_{number}", number + 1
    body["fields"] = [*body.get("fields", []),
                      {"name": name, "type": "state", "label": dict(STATE_FIELD_LABEL),
                       "pipeline": pipeline, "indexed": True}]
    return [body]


# --- form -> document ------------------------------------------------------------------

def read_pipeline(form: MultiDict[str, str], live: Mapping[str, Any] | None,
                  entity: EntityDef, *, drafts: bool = False) -> dict[str, Any]:
    """The pipeline document the posted editor describes (the live one's other keys kept).

    `drafts` (redrawing the editor): rows without a name yet but with something filled in
    are kept, nameless, so "Update the form" never drops what the admin typed; a preview
    ignores them."""
    body: dict[str, Any] = dict(live or {"kind": "pipeline", "version": 1})
    name = str(live["name"]) if live else str(form.get("name") or "").strip()
    body.update(name=name, entity=entity.name,
                label=labels_of(form.get("label_en", ""), form.get("label_ru", ""), name))
    renames: dict[str, str] = {}
    states = []
    for row in form_rows(form, "state"):
        state = _state(row) or (_draft(row, {"label": labels_of(
            row.get("label_en"), row.get("label_ru"), "")}) if drafts else None)
        original = row.get("original")
        if original:
            renames[original] = state["name"] if state else ""
        if state:
            states.append(state)
    body["states"] = states
    initial = _renamed(form.get("initial_state", "").strip(), renames)
    if initial:
        body["initial_state"] = initial
    else:
        body.pop("initial_state", None)
    body["transitions"] = [transition for row in form_rows(form, "transition")
                           if (transition := _transition(form, row, renames, entity, drafts))]
    return body


DRAFT_KEYS = ("label_en", "label_ru", "from", "to", "required_fields", "roles", "color",
              "probability")


def _draft(row: FormRow, values: dict[str, Any]) -> dict[str, Any] | None:
    """A nameless row worth showing again: something in it was filled in."""
    if row.checked("remove") or not any(row.getlist(key) for key in DRAFT_KEYS):
        return None
    return {"name": "", **values}


def _renamed(name: str, renames: Mapping[str, str]) -> str:
    return renames.get(name, name) if name else ""


def _state(row: FormRow) -> dict[str, Any] | None:
    name = row.get("name")
    if not name or row.checked("remove"):
        return None
    state: dict[str, Any] = {
        "name": name, "label": labels_of(row.get("label_en"), row.get("label_ru"), name),
        "category": row.get("category") or "open"}
    if row.get("color"):
        state["color"] = row.get("color")
    probability = row.get("probability")
    if probability:
        state["probability"] = int(probability) if probability.isdigit() else probability
    if row.checked("locked"):
        state["locked"] = True
        unlocked = choice_list(row.getlist("unlocked_for"))
        if unlocked:
            state["unlocked_for"] = unlocked
    return state


def _transition(form: MultiDict[str, str], row: FormRow, renames: Mapping[str, str],
                entity: EntityDef, drafts: bool = False) -> dict[str, Any] | None:
    name = row.get("name")
    if row.checked("remove") or (not name and not (drafts and _draft(row, {}))):
        return None
    sources = choice_list([_renamed(state, renames) for state in row.getlist("from")])
    transition: dict[str, Any] = {
        "name": name, "label": labels_of(row.get("label_en"), row.get("label_ru"), name),
        "from": "*" if "*" in sources else [s for s in sources if s],
        "to": _renamed(row.get("to"), renames)}
    required = choice_list(row.getlist("required_fields"))
    if required:
        transition["required_fields"] = required
    condition = read_criteria(form, f"transition-{row.index}-condition", entity)
    if condition is not None:
        transition["condition"] = condition
    roles = choice_list(row.getlist("roles"))
    if roles:
        transition["roles"] = roles
    return transition


# --- document -> form ------------------------------------------------------------------

def _editor(body: Mapping[str, Any], entity: EntityDef, *, new: bool,
            errors: Mapping[str, str] | None = None) -> Page:
    model = live_model()
    choices = field_choices(entity, services().registry)
    transitions = [
        {**transition, "criteria": criteria_form(f"transition-{index}-condition",
                                                 transition.get("condition"), choices)}
        for index, transition in enumerate(body.get("transitions", []))]
    blank = criteria_form(f"transition-{len(transitions)}-condition", None, choices)
    template_criteria = criteria_form("transition-__i__-condition", None, choices)
    page = render_template(
        "metacrm/designer/pipeline_edit.html", body=body, entity=entity, new=new,
        states=body.get("states", []), transitions=transitions, blank_criteria=blank,
        template_criteria=template_criteria, categories=CATEGORIES,
        roles=[(name, label(model.roles[name].label, name)) for name in sorted(model.roles)],
        fields=entity.fields, errors=errors or {},
        action=("/app/admin/pipelines/new?entity=" + entity.name) if new
        else f"/app/admin/pipelines/{body['name']}")
    return (page, 422) if errors else page
