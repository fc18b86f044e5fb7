"""Designer: duplicate rules — conditions over fields with normalisers, exact or fuzzy,
combined with AND/OR, and what a match does (warn or block).

The editor is one form over the whole `duplicate_rule` document. Besides "Update the form"
and "Preview the change" (the plan, then one metadata version, as every editor), "Show the
matches" lists the groups of existing records the rule as typed would call duplicates
(`services.duplicates.rule_preview`), read as the admin may read them — before the rule is
applied, so an admin sees a too-loose threshold before it blocks a single save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import render_template, request
from werkzeug.datastructures import MultiDict

from metacrm.fieldtypes.match_keys import NORMALISERS
from metacrm.kernel.errors import NotFound
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.services.duplicates.rule_preview import (
    PREVIEW_RECORDS,
    PreviewCondition,
    RulePreview,
    preview_rule,
)
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services, web_subject
from metacrm.web.designer.changes import live_body, preview_change
from metacrm.web.designer.form_rows import choice_list, form_rows, is_refresh, labels_of
from metacrm.web.i18n import t
from metacrm.web.values import ValueDisplay, record_reader

web_duplicate_rules = screen_blueprint("web_designer_duplicate_rules", __name__,
                                       url_prefix="/app/admin")

COMPARABLE_TYPES = ("text", "textarea", "email", "phone", "url", "auto_number")
"""Field types a condition may compare (the schema's and compiler's list)."""
MAX_CONDITIONS = 5
DEFAULT_NORMALISERS = {"email": ["email"], "phone": ["phone"]}
"""The normaliser a new condition over a field of this type starts with."""
PAGE_SIZE = 500
"""Records read per page of the preview's sample (the records query's largest page)."""
Page = str | tuple[str, int]


def live_model() -> CompiledModel:
    return services().metadata.live().model


@web_duplicate_rules.route("/duplicate-rules")
@admin_required
def rule_list() -> str:
    model = live_model()
    rules = sorted(model.duplicate_rules.values(), key=lambda r: (r.entity, r.name))
    entities = sorted((e for e in model.entities.values() if comparable_fields(e)),
                      key=lambda e: e.name)
    return render_template("metacrm/designer/duplicate_rules.html", rules=rules,
                           entities=entities, model=model)


@web_duplicate_rules.route("/duplicate-rules/new", methods=["GET", "POST"])
@admin_required
def new_rule() -> Page:
    model = live_model()
    entity = model.entity(str(request.values.get("entity") or ""))
    if entity is None or not comparable_fields(entity):
        raise NotFound(t("Choose an entity with a text, e-mail or phone field."))
    if request.method == "GET":
        name = _free_name(model, f"{entity.name}_duplicates")
        first = comparable_fields(entity)[0]
        body = {"kind": "duplicate_rule", "name": name, "version": 1,
                "label": labels_of(entity.label.get("en", ""), entity.label.get("ru", ""),
                                   name),
                "entity": entity.name, "action": "warn", "operator": "or",
                "conditions": [{"field": first.name,
                                "normalise": DEFAULT_NORMALISERS.get(first.type,
                                                                     ["case_spaces"])}]}
        return _editor(body, entity, new=True)
    return _submit(request.form, None, entity, new=True)


@web_duplicate_rules.route("/duplicate-rules/<name>", methods=["GET", "POST"])
@admin_required
def edit_rule(name: str) -> Page:
    body = live_body("duplicate_rule", name)
    if body is None:
        raise NotFound(t("There is no duplicate rule named %(name)s.", name=name))
    entity = live_model().entity(str(body.get("entity")))
    if entity is None:
        raise NotFound(t("The duplicate rule's entity does not exist."))
    if request.method == "GET":
        return _editor(body, entity, new=False)
    return _submit(request.form, body, entity, new=False)


def comparable_fields(entity: EntityDef) -> list[Any]:
    return [f for f in entity.fields if f.type in COMPARABLE_TYPES]


def _free_name(model: CompiledModel, wanted: str) -> str:
    name, number = wanted, 2
    while name in model.duplicate_rules:
        name, number = f"{wanted}_{number}", number + 1
    return name


def _submit(form: MultiDict[str, str], live: dict[str, Any] | None, entity: EntityDef,
            *, new: bool) -> Page:
    body = read_rule(form, live, entity)
    errors: dict[str, str] = {}
    if new:
        if not body["name"]:
            errors["name"] = t("Give the rule a name.")
        elif body["name"] in live_model().duplicate_rules:
            errors["name"] = t("A duplicate rule with this name exists already.")
    if not body["conditions"]:
        errors["conditions"] = t("Choose at least one field to compare.")
    elif len(body["conditions"]) > MAX_CONDITIONS:
        errors["conditions"] = t("A rule compares at most five fields.")
    elif any(not isinstance(c.get("threshold", 0.6), float)
             or not 0 < c.get("threshold", 0.6) <= 1 for c in body["conditions"]):
        errors["conditions"] = t("The least similarity is a number above 0, at most 1.")
    if form.get("action") == "matches" and not errors:
        return _editor(body, entity, new=new, preview=_matches(entity, body))
    if errors or is_refresh(form):
        return _editor(body, entity, new=new, errors=errors)
    url = f"/app/admin/duplicate-rules/{body['name']}"
    back = f"/app/admin/duplicate-rules/new?entity={entity.name}" if new else url
    return preview_change([body], title=t("Duplicate rule %(name)s", name=body["name"]),
                          back_url=back, done_url=url)


# --- form -> document ------------------------------------------------------------------

def read_rule(form: MultiDict[str, str], live: Mapping[str, Any] | None,
              entity: EntityDef) -> dict[str, Any]:
    """The duplicate rule document the posted editor describes (the live one's other keys,
    e.g. its description, kept)."""
    body: dict[str, Any] = dict(live or {"kind": "duplicate_rule", "version": 1})
    name = str(live["name"]) if live else str(form.get("name") or "").strip()
    body.update(name=name, entity=entity.name,
                label=labels_of(form.get("label_en", ""), form.get("label_ru", ""), name),
                action="block" if form.get("rule_action") == "block" else "warn",
                operator="and" if form.get("operator") == "and" else "or")
    events = [event for event in ("create", "update") if form.get(f"on_{event}")]
    if events and events != ["create", "update"]:
        body["on"] = events
    else:
        body.pop("on", None)  # both (the default); none ticked is read as both
    conditions = []
    for row in form_rows(form, "condition"):
        field = row.get("field")
        if not field or row.checked("remove"):
            continue
        condition: dict[str, Any] = {"field": field}
        normalise = [n for n in choice_list(row.getlist("normalise")) if n in NORMALISERS]
        condition["normalise"] = normalise or ["case_spaces"]
        if row.get("match") == "fuzzy":
            condition["match"] = "fuzzy"
            condition["threshold"] = _threshold(row.get("threshold"))
        conditions.append(condition)
    body["conditions"] = conditions
    return body


def _threshold(text: str) -> float | str:
    """The typed threshold as a number; text that is not one is kept so the plan names it."""
    try:
        return round(float(text.replace(",", ".")), 3) if text else 0.6
    except ValueError:
        return text


# --- the matches on existing data ------------------------------------------------------

def _matches(entity: EntityDef, body: Mapping[str, Any]) -> dict[str, Any]:
    """The preview of the rule as typed over the records the admin may read."""
    conditions = [
        PreviewCondition(str(c["field"]), tuple(c.get("normalise") or ("case_spaces",)),
                         c.get("match") == "fuzzy",
                         float(c.get("threshold", 0.6)))
        for c in body["conditions"]]
    records, truncated = _sample(entity.name)
    found: RulePreview = preview_rule(entity, conditions, str(body.get("operator")),
                                      records, truncated=truncated)
    by_id = {str(record["id"]): record for record in records}
    display = ValueDisplay(live_model(), fetch=record_reader(web_subject()))
    fields = list(dict.fromkeys(c.field for c in conditions))
    groups = [{"keys": group.keys,
               "records": [{"id": record_id,
                            "title": display.title(entity, by_id[record_id]),
                            "shown": [by_id[record_id].get(f) for f in fields]}
                           for record_id in group.ids]}
              for group in found.groups]
    return {"groups": groups, "compared": found.compared, "truncated": found.truncated,
            "fields": [entity.field(f) for f in fields]}


def _sample(entity: str) -> tuple[list[dict[str, Any]], bool]:
    """The first `PREVIEW_RECORDS` records the admin may read, and whether more exist."""
    scoped = services().records.runtime().scoped(web_subject())
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    with services().engine.connect() as conn:
        while len(records) < PREVIEW_RECORDS:
            page = scoped.page(conn, entity, limit=PAGE_SIZE, cursor=cursor)
            records.extend(dict(record) for record in page.records)
            cursor = page.next_cursor
            if cursor is None:
                return records[:PREVIEW_RECORDS], len(records) > PREVIEW_RECORDS
    return records[:PREVIEW_RECORDS], True


# --- document -> form ------------------------------------------------------------------

def normaliser_choices() -> list[tuple[str, str]]:
    """Every normaliser with its label in the page's language."""
    labels = {"case_spaces": t("case and spaces"), "email": t("e-mail address"),
              "phone": t("phone number (E.164)"),
              "legal_form": t("company legal form (LLC, ООО…)"),
              "transliterate": t("Cyrillic ↔ Latin")}
    return [(name, labels.get(name, name)) for name in NORMALISERS]


def _editor(body: Mapping[str, Any], entity: EntityDef, *, new: bool,
            errors: Mapping[str, str] | None = None,
            preview: Mapping[str, Any] | None = None) -> Page:
    conditions = list(body.get("conditions", []))
    page = render_template(
        "metacrm/designer/duplicate_rule_edit.html", body=body, entity=entity, new=new,
        conditions=conditions, blank_index=len(conditions),
        can_add=len(conditions) < MAX_CONDITIONS, fields=comparable_fields(entity),
        normalisers=normaliser_choices(), events=body.get("on") or ["create", "update"],
        errors=errors or {}, preview=preview,
        action=("/app/admin/duplicate-rules/new?entity=" + entity.name) if new
        else f"/app/admin/duplicate-rules/{body['name']}")
    return (page, 422) if errors else page
