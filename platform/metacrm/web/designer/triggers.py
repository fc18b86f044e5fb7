"""Designer: triggers — event, mode, condition and the actions they run.

Built-in actions expose no parameter schemas, so their `params` are edited as a JSON
object (with an example per built-in action); extension packs' actions come with a JSON
Schema, and when it is simple the editor shows a form from it (`action_params`). The
compiler checks params when the change is previewed, so a wrong parameter is listed there,
pointing at `/actions/<i>/params/...`. Text that is not JSON at all is refused beside the
action before any preview.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from werkzeug.datastructures import MultiDict

from metacrm.kernel.errors import NotFound
from metacrm.metadata.model import CompiledModel, EntityDef, PipelineDef
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.designer.action_params import (
    ParamInput,
    param_inputs,
    posted_inputs,
    read_params,
)
from metacrm.web.designer.changes import live_body, preview_change
from metacrm.web.designer.criteria_form import criteria_form, field_choices, read_criteria
from metacrm.web.designer.form_rows import choice_list, form_rows, is_refresh, labels_of
from metacrm.web.i18n import label, t
from metacrm.web.list_columns import system_label

web_triggers = screen_blueprint("web_designer_triggers", __name__, url_prefix="/app/admin")

EVENTS = ("created", "updated", "deleted", "transitioned", "field_changed", "time",
          "scheduled")
EVENT_KEYS = ("condition_before", "fields", "from", "to", "pipeline", "transitions",
              "from_states", "to_states", "date_field", "offset", "cron", "timezone")
BEFORE_EVENTS = ("updated", "field_changed", "transitioned")
OFFSET_UNITS = ("minutes", "hours", "days", "weeks", "months")
TIME_SYSTEM_FIELDS = ("created_at", "updated_at")
EXAMPLES: Mapping[str, Any] = {
    "set_fields": {"values": {"<field>": "<value>"}},
    "create_record": {"entity": "task", "values": {"<field>": {"template": "{{ record.id }}"}},
                      "owner": "record_owner"},
    "assign_owner": {"strategy": "round_robin", "team": "<team>"},
    "transition": {"name": "<transition>"},
    "send_email": {"to": "owner", "subject": "{{ record.id }}", "body": "…"},
    "call_webhook": {"url": "https://hooks.example.com/crm"},
}
Page = str | tuple[str, int]


@dataclass
class ActionRow:
    """One action as the editor shows it: its type and its params as JSON text."""

    type: str
    params: str
    error: str = ""
    inputs: list[ParamInput] | None = None
    """A form for the params, when the action's schema is simple (else the JSON box)."""


def live_model() -> CompiledModel:
    return services().metadata.live().model


def action_names() -> tuple[str, ...]:
    """The registered actions (none when automation is not installed in this process)."""
    try:
        return services().services.automation.actions.names()
    except LookupError:
        return ()


def action_schemas() -> Mapping[str, Mapping[str, Any]]:
    """Parameter schemas of the actions that have one (extension packs' actions)."""
    return services().services.packs.action_schemas()


def event_labels() -> dict[str, str]:
    return {"created": t("created"), "updated": t("updated"), "deleted": t("deleted"),
            "transitioned": t("moved in a pipeline"), "field_changed": t("field changed"),
            "time": t("time (a date is reached)"), "scheduled": t("scheduled (cron)")}


@web_triggers.route("/triggers")
@admin_required
def trigger_list() -> str:
    model = live_model()
    return render_template(
        "metacrm/designer/triggers.html", model=model, events=event_labels(),
        triggers=sorted(model.triggers.values(), key=lambda tr: (tr.entity, tr.name)))


@web_triggers.route("/triggers/new", methods=["GET", "POST"])
@admin_required
def new_trigger() -> Page:
    if request.method == "POST":
        return _submit(request.form, None)
    model = live_model()
    entity = str(request.args.get("entity") or next(iter(sorted(model.entities)), ""))
    body = {"kind": "trigger", "name": "", "version": 1, "label": {"en": "", "ru": ""},
            "entity": entity, "event": "created", "mode": "async", "enabled": True,
            "actions": []}
    return _editor(body, [], new=True)


@web_triggers.route("/triggers/<name>", methods=["GET", "POST"])
@admin_required
def edit_trigger(name: str) -> Page:
    body = live_body("trigger", name)
    if body is None:
        raise NotFound(t("There is no trigger named %(name)s.", name=name))
    if request.method == "POST":
        return _submit(request.form, body)
    schemas = action_schemas()
    rows = [ActionRow(str(action.get("type", "")),
                      json.dumps(action["params"], ensure_ascii=False, indent=2)
                      if "params" in action else "",
                      inputs=param_inputs(schemas.get(str(action.get("type", ""))),
                                          action.get("params") or {}))
            for action in body.get("actions", [])]
    return _editor(body, rows, new=False)


def _submit(form: MultiDict[str, str], live: dict[str, Any] | None) -> Page:
    body, rows = read_trigger(form, live, live_model())
    errors: dict[str, str] = {}
    if live is None:
        if not body["name"]:
            errors["name"] = t("Give the trigger a name.")
        elif body["name"] in live_model().triggers:
            errors["name"] = t("A trigger with this name exists already.")
    if any(row.error for row in rows):
        errors["actions"] = t("Some actions have parameters that cannot be read.")
    if errors or is_refresh(form):
        return _editor(body, rows, new=live is None, errors=errors)
    url = f"/app/admin/triggers/{body['name']}"
    return preview_change([body], title=t("Trigger %(name)s", name=body["name"]),
                          back_url=url if live else "/app/admin/triggers/new", done_url=url)


# --- form -> document ------------------------------------------------------------------

def read_trigger(form: MultiDict[str, str], live: Mapping[str, Any] | None,
                 model: CompiledModel) -> tuple[dict[str, Any], list[ActionRow]]:
    """The trigger document the posted editor describes, and its action rows."""
    body: dict[str, Any] = {key: value for key, value in (live or {}).items()
                            if key not in EVENT_KEYS}
    body.setdefault("kind", "trigger")
    body.setdefault("version", 1)
    name = str(live["name"]) if live else str(form.get("name") or "").strip()
    entity = model.entity(str(form.get("entity") or ""))
    event = str(form.get("event") or "created")
    body.update(name=name, label=labels_of(form.get("label_en", ""), form.get("label_ru", ""),
                                           name),
                entity=str(form.get("entity") or ""), event=event,
                mode="sync" if form.get("mode") == "sync" else "async",
                enabled=bool(form.get("enabled")))
    body.update(_event_options(form, event))
    if live and event in BEFORE_EVENTS and "condition_before" in live:
        body["condition_before"] = live["condition_before"]
    condition = read_criteria(form, "condition", entity)
    if condition is None:
        body.pop("condition", None)
    else:
        body["condition"] = condition
    rows = _action_rows(form)
    body["actions"] = [_action(row) for row in rows]
    return body, rows


def _event_options(form: MultiDict[str, str], event: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if event == "field_changed":
        options["fields"] = choice_list(form.getlist("fields"))
        for key in ("from", "to"):
            values = _values(str(form.get(f"changed_{key}") or ""))
            if values:
                options[key] = values
    elif event == "transitioned":
        if form.get("pipeline"):
            options["pipeline"] = str(form.get("pipeline"))
        for key in ("transitions", "from_states", "to_states"):
            chosen = choice_list(form.getlist(key))
            if chosen:
                options[key] = chosen
    elif event == "time":
        options["date_field"] = str(form.get("date_field") or "")
        amount = str(form.get("offset_amount") or "").strip()
        if amount:
            unit = str(form.get("offset_unit") or "days")
            options["offset"] = {unit: int(amount) if _is_int(amount) else amount}
    elif event == "scheduled":
        options["cron"] = str(form.get("cron") or "").strip()
        if str(form.get("timezone") or "").strip():
            options["timezone"] = str(form.get("timezone")).strip()
    return options


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _values(text: str) -> list[Any]:
    """`hot, warm, null` -> ["hot", "warm", None] (from/to values of a field change)."""
    words = {"null": None, "true": True, "false": False}
    return [words.get(item.strip(), item.strip()) for item in text.split(",") if item.strip()]


def _values_text(values: Any) -> str:
    if not isinstance(values, list):
        return ""
    names = {None: "null", True: "true", False: "false"}
    return ", ".join(names.get(v, str(v)) if v is None or isinstance(v, bool) else str(v)
                     for v in values)


def _action_rows(form: MultiDict[str, str]) -> list[ActionRow]:
    rows = []
    schemas = action_schemas()
    for row in form_rows(form, "action"):
        if not row.get("type") or row.checked("remove"):
            continue
        schema = schemas.get(row.get("type"))
        if schema is not None and posted_inputs(row) and param_inputs(schema, {}) is not None:
            params, error = read_params(schema, row)
            rows.append(ActionRow(row.get("type"), json.dumps(params, ensure_ascii=False),
                                  error, param_inputs(schema, params)))
            continue
        text = row.get("params")
        action = ActionRow(row.get("type"), text)
        if text:
            try:
                if not isinstance(json.loads(text), dict):
                    raise ValueError("not an object")
            except ValueError:
                action.error = t("Parameters must be a JSON object, such as %(example)s.",
                                 example='{"values": {"status": "new"}}')
        if schema is not None and not action.error:
            action.inputs = param_inputs(schema, json.loads(text) if text else {})
        rows.append(action)
    return rows


def _action(row: ActionRow) -> dict[str, Any]:
    action: dict[str, Any] = {"type": row.type}
    if row.params and not row.error:
        action["params"] = json.loads(row.params)
    return action


# --- document -> form ------------------------------------------------------------------

def _editor(body: Mapping[str, Any], rows: list[ActionRow], *, new: bool,
            errors: Mapping[str, str] | None = None) -> Page:
    model = live_model()
    entity = model.entity(str(body.get("entity") or ""))
    choices = field_choices(entity, services().registry)
    pipelines: list[PipelineDef] = [p for p in model.pipelines.values()
                                    if entity is not None and p.entity == entity.name]
    offset = body.get("offset") or {}
    offset_unit, offset_amount = next(iter(offset.items()), ("days", ""))
    page = render_template(
        "metacrm/designer/trigger_edit.html", body=body, new=new, entity=entity,
        entities=sorted(model.entities.values(), key=lambda e: e.name),
        events=event_labels(), actions=rows,
        action_types=[(name, action_label(name)) for name in action_names()],
        examples={name: json.dumps(EXAMPLES[name], ensure_ascii=False)
                  for name in action_names() if name in EXAMPLES},
        condition=criteria_form("condition", body.get("condition"), choices),
        pipelines=pipelines, states=_states(pipelines),
        transition_names=list(dict.fromkeys(
            (tr.name, label(tr.label, tr.name)) for p in pipelines for tr in p.transitions)),
        time_fields=_time_fields(entity),
        offset_units=[(unit, unit_label(unit)) for unit in OFFSET_UNITS],
        offset_unit=offset_unit, offset_amount=offset_amount,
        changed_from=_values_text(body.get("from")), changed_to=_values_text(body.get("to")),
        errors=errors or {},
        action_url="/app/admin/triggers/new" if new else f"/app/admin/triggers/{body['name']}")
    return (page, 422) if errors else page


def _states(pipelines: list[PipelineDef]) -> list[tuple[str, str]]:
    """(name, label) of the pipelines' states, each once."""
    return list(dict.fromkeys((state.name, label(state.label, state.name))
                              for p in pipelines for state in p.states))


def _time_fields(entity: EntityDef | None) -> list[tuple[str, str]]:
    system = [(name, system_label(name)) for name in TIME_SYSTEM_FIELDS]
    if entity is None:
        return system
    return [(f.name, label(f.label, f.name)) for f in entity.fields
            if f.type in ("date", "datetime")] + system


def unit_label(unit: str) -> str:
    return {"minutes": t("minutes"), "hours": t("hours"), "days": t("days"),
            "weeks": t("weeks"), "months": t("months")}.get(unit, unit)


def action_label(name: str) -> str:
    """A built-in action's name in the user's language; an extension's action its name."""
    return {
        "set_fields": t("Set fields"), "create_record": t("Create a record"),
        "transition": t("Move through the pipeline"), "assign_owner": t("Assign an owner"),
        "send_email": t("Send an email"), "call_webhook": t("Call a webhook"),
    }.get(name, name)
