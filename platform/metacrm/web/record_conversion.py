"""The conversion page (`/app/r/<entity>/<id>/convert`): how a record (a lead) becomes the
records its conversion makes — the only way the screens move a record into the state a
conversion leads to.

GET shows, per target, the values the mapping gives and the existing record that would be
linked instead of a new one, plus the guards of the conversion's transition
(`services.conversion.preview`). The form chooses per target: make it (linking the match
when there is one) or skip it (optional targets only); POST runs
`ConversionService.convert` with that request, so every rule of the API applies. A refusal
shows the page again with the reasons and the choices kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, MetacrmError, NotFound, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.services.conversion.preview import (
    ConversionPreview,
    TargetPreview,
    preview_conversion,
)
from metacrm.services.conversion.service import ConversionService
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.condition_text import condition_sentence
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import label, t
from metacrm.web.record_page import condition_reason, posted_version, record_url, transitions
from metacrm.web.refusals import refusal_text
from metacrm.web.values import ValueDisplay, record_title

web_conversion = screen_blueprint("web_conversion", __name__, url_prefix="/app")

MAKE, SKIP = "make", "skip"
CHOICE_PREFIX = "target."


def conversion_url(entity: str, record_id: str) -> str:
    return f"/app/r/{entity}/{record_id}/convert"


def conversion() -> ConversionService:
    return services().services.conversion


@dataclass
class ConversionRefusal:
    title: str
    reasons: list[str] = field(default_factory=list)


def render_conversion(entity: str, record_id: str, *, choices: dict[str, str] | None = None,
                      refusal: ConversionRefusal | None = None, status: int = 200
                      ) -> tuple[str, int]:
    subject = web_subject()
    preview = preview_conversion(conversion(), transitions(), subject, entity, record_id,
                                 request.values.get("conversion") or None)
    model = services().records.runtime().model
    source = services().records.visible_entity(subject, entity)
    targets = [_target_view(subject, preview, target) for target in preview.targets]
    display = ValueDisplay(model)
    return render_template(
        "metacrm/conversion.html", entity=source, record=preview.record,
        title=record_title(source, preview.record),
        entity_label=label(source.label, entity),
        plural_label=label(source.plural_label, entity),
        conversion=preview.conversion,
        conversion_label=label(preview.conversion.label, preview.conversion.name),
        targets=targets, step=_step_view(preview, source), display=display,
        choices=choices or {}, refusal=refusal, make=MAKE, skip=SKIP,
        choice_prefix=CHOICE_PREFIX), status


@dataclass(frozen=True)
class TargetView:
    """One target as the page shows it."""

    name: str
    entity: EntityDef
    """The target's entity as the user may see it."""
    label: str
    optional: bool
    fields: list[tuple[str, str]]
    """(field, label) of the mapped values shown."""
    values: Mapping[str, Any]
    links: list[tuple[str, str]]
    """(field label, the earlier target's label) of the links to earlier targets."""
    match: dict[str, Any] | None
    match_title: str
    may_create: bool


def _target_view(subject: AccessSubject, preview: ConversionPreview,
                 target: TargetPreview) -> TargetView:
    model = services().records.runtime().model
    entity = services().records.visible_entity(subject, target.definition.entity)
    titles = {other.definition.name: label(model.entities[other.definition.entity].label,
                                           other.definition.entity)
              for other in preview.targets}
    shown = {name: label(fdef.label, name) for name in (*target.values, *target.links)
             if (fdef := entity.field(name)) is not None}
    return TargetView(
        name=target.definition.name, entity=entity, label=label(entity.label, entity.name),
        optional=target.definition.optional,
        fields=[(name, shown[name]) for name in target.values if name in shown],
        values=target.values,
        links=[(shown[name], titles.get(other, other))
               for name, other in target.links.items() if name in shown],
        match=target.match,
        match_title=record_title(entity, target.match) if target.match else "",
        may_create=target.may_create)


def _step_view(preview: ConversionPreview, source: EntityDef) -> dict[str, Any] | None:
    """The conversion's transition: its target state and the guards the record fails."""
    step = preview.transition
    if step is None:
        return None
    missing = [label(fdef.label, name) if (fdef := source.field(name)) is not None
               else t("a field you cannot see") for name in step.get("missing", ())]
    condition = _transition_condition(source.name)
    met = bool(step.get("condition_met", True))
    return {"to_label": label(step.get("to_label"), str(step.get("to", ""))),
            "missing": missing, "condition_met": met,
            "condition_text": ("" if met or condition is None else condition_sentence(
                condition, source, ValueDisplay(services().records.runtime().model)))}


@web_conversion.get("/r/<entity>/<record_id>/convert")
@login_required
def conversion_page(entity: str, record_id: str) -> tuple[str, int]:
    return render_conversion(entity, record_id)


@web_conversion.post("/r/<entity>/<record_id>/convert")
@login_required
def convert(entity: str, record_id: str) -> BaseResponse | tuple[str, int]:
    subject = web_subject()
    choices = {key.removeprefix(CHOICE_PREFIX): value for key, value in request.form.items()
               if key.startswith(CHOICE_PREFIX)}
    body: dict[str, Any] = {"targets": {name: {"skip": True}
                                        for name, choice in choices.items() if choice == SKIP}}
    if request.form.get("conversion"):
        body["conversion"] = request.form["conversion"]
    try:
        result = conversion().convert(subject, entity, record_id, body,
                                      expected_version=posted_version())
    except NotFound:
        raise
    except MetacrmError as error:
        refusal = ConversionRefusal(t("The record was not converted."),
                                    _reasons(subject, entity, error))
        return render_conversion(entity, record_id, choices=choices, refusal=refusal,
                                 status=error.status)
    made = [_outcome(subject, outcome) for outcome in result["targets"].values()
            if outcome["record"] is not None]
    flash(t("Converted: %(records)s.", records=", ".join(made)), "success")
    return redirect(record_url(entity, record_id))


def _outcome(subject: AccessSubject, outcome: dict[str, Any]) -> str:
    entity = services().records.visible_entity(subject, outcome["entity"])
    what = {"created": t("created"), "matched": t("linked"), "used": t("linked")}
    return (f"{label(entity.label, entity.name)} “{record_title(entity, outcome['record'])}” "
            f"({what.get(outcome['action'], outcome['action'])})")


def _reasons(subject: AccessSubject, entity: str, error: MetacrmError) -> list[str]:
    """Each problem in the user's words: which target's (or the record's) field, and why;
    a refusal that is not about values, by its kind."""
    if not isinstance(error, ValidationFailed):
        return [refusal_text(error)]
    reasons = [_reason(subject, entity, detail) for detail in error.errors]
    return list(dict.fromkeys(reasons)) or [error.message]


def _transition_condition(entity: str) -> Any:
    """The condition of the transition the entity's conversion performs (None without)."""
    model = services().records.runtime().model
    names = {c.transition for c in model.conversions.values() if c.entity == entity}
    return next((t.condition for p in model.pipelines.values() if p.entity == entity
                 for t in p.transitions if t.name in names), None)


def _reason(subject: AccessSubject, entity: str, detail: ErrorDetail) -> str:
    parts = detail.pointer.strip("/").split("/")
    model = services().records.runtime().model
    where = ""
    if parts[0] == "targets" and len(parts) >= 2:
        target = next((c.target(parts[1]) for c in model.conversions.values()
                       if c.entity == entity and c.target(parts[1]) is not None), None)
        if target is not None:
            other = services().records.visible_entity(subject, target.entity)
            fdef = other.field(parts[2]) if len(parts) > 2 else None
            where = label(other.label, other.name) + (
                f" · {label(fdef.label, fdef.name)}" if fdef is not None else "")
    elif parts[0] == "record" and len(parts) >= 2:
        source = services().records.visible_entity(subject, entity)
        if parts[1] == "condition":
            return condition_reason(detail.pointer.removeprefix("/record"),
                                    _transition_condition(entity), source)
        fdef = source.field(parts[1])
        where = label(fdef.label, fdef.name) if fdef is not None else ""
    return f"{where}: {detail.message}" if where else detail.message
