"""The record page (`/app/r/<entity>/<id>`): a record's fields in the sections of its form
layout, the records that reference it, its timeline, and the buttons of what the user may do
next — edit, delete, the pipeline transitions open to them.

Also the page's actions: delete, perform a transition (with values for the fields it
requires; a refusal shows the page again with the explanation), and the JSON lookup that
reference inputs search with (`/app/lookup/<entity>?q=`).

Everything is read and written through the records and transitions services with the
signed-in user's subject: hidden fields never reach the template, and buttons offered here
are only a courtesy — the services refuse a forced request all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Response, flash, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import (
    ErrorDetail,
    Forbidden,
    MetacrmError,
    NotFound,
    ValidationFailed,
)
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.services.records.actions import RecordActions, record_actions
from metacrm.services.records.related import RelatedList, related_lists
from metacrm.services.timeline.service import TimelinePage
from metacrm.services.timeline.sources import link_entities
from metacrm.services.transitions.guards import ConversionRequired
from metacrm.services.transitions.service import TransitionService
from metacrm.services.users.bookmarks import RecordBookmarks
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.condition_text import (
    CONDITION,
    condition_fields,
    condition_sentence,
    part_at,
)
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.duplicate_panel import record_panel
from metacrm.web.form_fields import FormValue, Widget, active_users, build_widgets
from metacrm.web.form_layout import list_view, sections
from metacrm.web.form_parsing import parse_form, pointer_field
from metacrm.web.i18n import label, t
from metacrm.web.knowledge_panel import knowledge_panels
from metacrm.web.mailing_actions import mailing_actions
from metacrm.web.mailing_panel import mailing_panels
from metacrm.web.pack_panels import pack_panels
from metacrm.web.record_channels import channel_panel
from metacrm.web.record_email import email_panel
from metacrm.web.record_files import attachments_panel
from metacrm.web.record_phone import phone_panel
from metacrm.web.refusals import refusal_text
from metacrm.web.segment_panel import segment_panels
from metacrm.web.sla_panel import sla_panels
from metacrm.web.timeline import TimelineItem, actor_ids, audit_rows, build_feed
from metacrm.web.values import ValueDisplay, record_reader

web_record = screen_blueprint("web_record", __name__, url_prefix="/app")

MAX_INCLUDES = 10
LOOKUP_LIMIT = 20
RELATED_COLUMNS = 4
VERSION_FIELD = "_version"
REQUIRED_BY = "is required by transition"
TIMELINE_KIND = "timeline_kind"
TIMELINE_CURSOR = "timeline_cursor"
TIMELINE_PAGE = 25
ACTIVITY_GROUP = "communications"


def record_url(entity: str, record_id: str) -> str:
    return f"/app/r/{entity}/{record_id}"


def transitions() -> TransitionService:
    return services().services.transitions


def model() -> CompiledModel:
    return services().records.runtime().model


def posted_version() -> int | None:
    """The record version the form was made from (hidden `_version`), if any."""
    raw = request.form.get(VERSION_FIELD, "")
    return int(raw) if raw.isdigit() else None


def reference_fields(entity: EntityDef) -> list[str]:
    return [f.name for f in entity.fields if f.type == "reference"][:MAX_INCLUDES]


# --- the page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionButton:
    name: str
    label: str
    to_label: str
    fields: tuple[Widget, ...]
    """Inputs for the required fields the record lacks (those the user may write)."""
    condition_met: bool
    condition_text: str = ""
    """The step's condition as a sentence, when the record does not meet it."""
    convert_url: str | None = None
    """For a transition a conversion owns: the conversion page, which performs it."""


@dataclass(frozen=True)
class Related:
    key: str
    """`<entity>.<field>` (the `data-related` hook)."""
    title: str
    entity: EntityDef
    columns: tuple[str, ...]
    records: list[dict[str, Any]]
    count: int
    more_url: str
    display: ValueDisplay
    new_url: str | None = None
    """The create form of the related entity with the link back to this record filled in,
    when the user may create such records and set that field."""


@dataclass
class TransitionRefusal:
    """Why a transition was refused, for the alert on the page."""

    transition: str
    title: str
    reasons: list[str] = field(default_factory=list)
    values: dict[str, FormValue] = field(default_factory=dict)


def _with_history_references(subject: AccessSubject, visible: EntityDef,
                              included: dict[str, Any], history: list[dict[str, Any]]
                              ) -> dict[str, Any]:
    """`included` plus the records the timeline's old and new reference values name, so
    the timeline shows their titles too — read through the records service, so a record
    the subject may not read stays an id."""
    merged = {name: dict(found) for name, found in included.items()}
    for fdef in visible.fields:
        if fdef.type != "reference" or not fdef.target_entity:
            continue
        known = merged.setdefault(fdef.name, {})
        wanted = {str(value) for entry in history if entry.get("field") == fdef.name
                  for value in (entry.get("old"), entry.get("new"))
                  if value is not None} - set(known)
        if not wanted:
            continue
        try:
            page = services().records.list(
                subject, fdef.target_entity, limit=min(len(wanted), 500),
                criteria={"field": "id", "op": "in", "value": sorted(wanted)[:500]})
        except Forbidden:
            continue
        known.update((str(found["id"]), found) for found in page.records)
    return merged


def render_record(entity: str, record_id: str, *, refusal: TransitionRefusal | None = None,
                  status: int = 200) -> tuple[str, int]:
    subject = web_subject()
    records = services().records
    visible = records.visible_entity(subject, entity)
    record = records.get(subject, entity, record_id, include=reference_fields(visible))
    included = record.pop("_included", {})
    bookmarks = RecordBookmarks(records)
    bookmarks.opened(subject, entity, str(record["id"]))
    feed = _timeline_page(subject, entity, record_id)
    history = audit_rows(feed.entries)
    actions = record_actions(records, subject, entity, record_id)
    live = model()
    display = ValueDisplay(live, _with_history_references(subject, visible, included, history),
                           fetch=record_reader(subject))
    related = _related(subject, entity, record_id, live)
    display.load_users(services().engine, ValueDisplay.user_ids(visible, [record])
                       | actor_ids(history, visible)
                       | {str(e.actor) for e in feed.entries if e.actor}
                       | {u for r in related for u in ValueDisplay.user_ids(r.entity,
                                                                            r.records)})
    for item in related:
        item.display.users.update(display.users)
    timeline: list[TimelineItem] = build_feed(feed.entries, visible, live, display)
    buttons = _transition_buttons(subject, entity, record_id, visible, actions, refusal)
    page = render_template(
        "metacrm/record.html",
        entity=visible, entity_label=label(visible.label, entity),
        plural_label=label(visible.plural_label, entity),
        record=record, title=display.title(visible, record), display=display,
        sections=sections(live, visible), related=related, timeline=timeline,
        timeline_filters=_timeline_filters(entity, record_id, feed.kinds, live),
        timeline_kind=request.args.get(TIMELINE_KIND, ""),
        timeline_older=(_timeline_url(entity, record_id, request.args.get(TIMELINE_KIND),
                                      feed.next_cursor) if feed.next_cursor else None),
        quick_actions=_quick_actions(related, live),
        actions=actions, transitions=buttons, refusal=refusal,
        state_fields=[f.name for f in visible.fields if f.type == "state"],
        pack_panels=[*sla_panels(entity, record), *knowledge_panels(entity, record),
                     *segment_panels(entity, record),
                     *mailing_panels(subject, entity, record),
                     *pack_panels(subject, entity, record)],
        starred=bookmarks.starred(subject, entity, str(record["id"])),
        **attachments_panel(subject, entity, record_id),
        email_compose=email_panel(subject, entity, record),
        phone_panel=phone_panel(subject, entity, record),
        channel_compose=channel_panel(entity, record),
        mailing_actions=mailing_actions(entity, record, actions.update),
        duplicates=record_panel(subject, entity, str(record["id"])),
    )
    return page, status


def _timeline_page(subject: AccessSubject, entity: str, record_id: str) -> TimelinePage:
    """The page of the timeline the query asks for (`timeline_kind`, `timeline_cursor`);
    a filter or cursor that no longer fits shows the first page, unfiltered."""
    service = services().services.timeline
    kind = request.args.get(TIMELINE_KIND) or None
    cursor = request.args.get(TIMELINE_CURSOR) or None
    try:
        return service.page(subject, entity, record_id, kinds=[kind] if kind else None,
                            cursor=cursor, limit=TIMELINE_PAGE)
    except ValidationFailed:
        return service.page(subject, entity, record_id, limit=TIMELINE_PAGE)


def _timeline_url(entity: str, record_id: str, kind: str | None,
                  cursor: str | None = None) -> str:
    query = {key: value for key, value in ((TIMELINE_KIND, kind), (TIMELINE_CURSOR, cursor))
             if value}
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{record_url(entity, record_id)}{suffix}#timeline-title"


@dataclass(frozen=True)
class TimelineFilter:
    kind: str
    label: str
    url: str


def _timeline_filters(entity: str, record_id: str, kinds: tuple[str, ...],
                      live: CompiledModel) -> list[TimelineFilter]:
    names = {"change": t("Changes"), "transition": t("Transitions")}
    found = [TimelineFilter("", t("Everything"), _timeline_url(entity, record_id, None))]
    for kind in kinds:
        other = live.entity(kind)
        text = names.get(kind) or (label(other.plural_label, kind) if other else kind)
        found.append(TimelineFilter(kind, text, _timeline_url(entity, record_id, kind)))
    return found


@dataclass(frozen=True)
class QuickAction:
    entity: str
    label: str
    url: str


def _quick_actions(related: list[Related], live: CompiledModel) -> list[QuickAction]:
    """"Log a call", "Schedule a meeting", "Add a note"…: the create forms of the activities
    (entities of the communications group, not link entities) about this record, pre-filled
    — those the related lists offer, so only what the user may create."""
    verbs = {"call": t("Log a call"), "meeting": t("Schedule a meeting"),
             "note": t("Add a note")}
    links = link_entities(live)
    found = []
    for item in related:
        other = item.entity
        field_name = item.key.partition(".")[2]
        fdef = other.field(field_name)
        if (item.new_url and other.group == ACTIVITY_GROUP and other.name not in links
                and fdef is not None and fdef.type == "regarding"):
            found.append(QuickAction(other.name, verbs.get(other.name) or t(
                "New %(entity)s", entity=label(other.label, other.name)), item.new_url))
    return found


@web_record.get("/r/<entity>/<record_id>")
@login_required
def record_page(entity: str, record_id: str) -> tuple[str, int]:
    return render_record(entity, record_id)


def _related(subject: AccessSubject, entity: str, record_id: str, live: CompiledModel
             ) -> list[Related]:
    found = []
    for item in related_lists(services().records, subject, entity, record_id):
        found.append(_related_view(subject, item, entity, record_id, live))
    return found


def _related_view(subject: AccessSubject, item: RelatedList, entity: str, record_id: str,
                  live: CompiledModel) -> Related:
    other = item.entity
    view = list_view(live, other.name)
    wanted = [name for name in (view.columns if view else ()) if other.has_field(name)
              and name != item.field.name]
    if other.title_field and other.has_field(other.title_field):
        wanted = [other.title_field, *(n for n in wanted if n != other.title_field)]
    columns = tuple(wanted[:RELATED_COLUMNS])
    title = label(other.plural_label, other.name)
    if sum(1 for f in other.fields if f.target_entity == item.field.target_entity
           and f.type == "reference") > 1:
        title = f"{title} ({label(item.field.label, item.field.name)})"
    display = ValueDisplay(live, fetch=record_reader(subject))
    display.prefetch(other, item.page.records, columns)
    return Related(
        key=f"{other.name}.{item.field.name}", title=title, entity=other, columns=columns,
        records=item.page.records, count=item.page.count,
        more_url=f"/app/r/{other.name}?filter[{item.field.name}][eq]={record_id}",
        display=display, new_url=_new_related_url(subject, item, entity, record_id),
    )


def _new_related_url(subject: AccessSubject, item: RelatedList, entity: str,
                     record_id: str) -> str | None:
    """`/app/r/<other>/new?…` pre-filling the reference (or regarding link) to this record;
    None when the subject may not create `other` or not set that field on a new record."""
    policy = services().records.runtime().policy
    other, fdef = item.entity.name, item.field
    if not policy.scope(subject, other, "create").allowed:
        return None
    if policy.field_access(subject, other).refused(fdef.name, "create"):
        return None
    if fdef.type == "regarding":
        query = urlencode({f"{fdef.name}.entity": entity, f"{fdef.name}.id": record_id})
    else:
        query = urlencode({fdef.name: record_id})
    return f"/app/r/{other}/new?{query}"


def _transition_buttons(subject: AccessSubject, entity: str, record_id: str,
                        visible: EntityDef, actions: RecordActions,
                        refusal: TransitionRefusal | None) -> list[TransitionButton]:
    if not actions.transition:
        return []
    runtime = services().records.runtime()
    options = transitions().available(subject, entity, record_id)
    asked = {str(name) for option in options for name in option.get("missing", ())}
    users = (active_users(services().engine)
             if any(f.type == "user" and f.name in asked for f in visible.fields) else ())
    widgets = build_widgets(visible, runtime.policy.field_access(subject, entity),
                            services().registry, creating=False, users=users)
    conditions = {step.name: step.condition for field_name, pipeline
                  in runtime.states.fields(entity) for step in pipeline.transitions}
    display = ValueDisplay(runtime.model)
    buttons = []
    for option in options:
        name = str(option["name"])
        wanted = [str(field_name) for field_name in option.get("missing", ())]
        condition_met = bool(option.get("condition_met", True))
        condition = conditions.get(name)
        if not condition_met and condition is not None:
            # the fields the condition names, so the user can meet it in the same step
            wanted += [f for f in condition_fields(condition) if f not in wanted]
        if refusal is not None and refusal.transition == name:
            wanted += [f for f in refusal.values if f not in wanted]
        fields = tuple(widgets[f] for f in wanted
                       if f in widgets and not widgets[f].read_only)
        buttons.append(TransitionButton(
            name=name, label=label(option.get("label"), name),
            to_label=label(option.get("to_label"), str(option.get("to", ""))),
            fields=fields, condition_met=condition_met,
            condition_text=(condition_sentence(condition, visible, display)
                            if not condition_met and condition is not None else ""),
            convert_url=(f"{record_url(entity, record_id)}/convert"
                         if option.get("conversion") else None)))
    return buttons


# --- actions -------------------------------------------------------------------------------


@web_record.post("/r/<entity>/<record_id>/delete")
@login_required
def delete_record(entity: str, record_id: str) -> BaseResponse:
    services().records.delete(web_subject(), entity, record_id,
                              expected_version=posted_version())
    flash(t("The record was deleted."), "success")
    return redirect(f"/app/r/{entity}")


@web_record.post("/r/<entity>/<record_id>/transition/<name>")
@login_required
def perform_transition(entity: str, record_id: str, name: str
                       ) -> BaseResponse | tuple[str, int]:
    subject = web_subject()
    live_entity = services().records.runtime().policy.entity(entity)
    parsed = parse_form(request.form, live_entity)
    values = {key: value for key, value in parsed.payload.items() if value is not None}
    try:
        if parsed.errors:
            raise ValidationFailed(t("Some values could not be read."), parsed.errors)
        transitions().transition(subject, entity, record_id, name, values or None,
                                 expected_version=posted_version())
    except ConversionRequired:
        return redirect(f"{record_url(entity, record_id)}/convert")
    except NotFound:
        raise
    except MetacrmError as error:
        visible = services().records.visible_entity(subject, entity)
        refusal = explain_refusal(error, name, visible)
        refusal.values = parsed.submitted
        return render_record(entity, record_id, refusal=refusal, status=error.status)
    flash(t("Done."), "success")
    return redirect(record_url(entity, record_id))


def explain_refusal(error: MetacrmError, name: str, visible: EntityDef) -> TransitionRefusal:
    """The refusal in the user's words: each missing field by its label, the condition."""
    step, condition = name, None
    for fdef in visible.fields:
        pipeline = model().pipelines.get(str(fdef.option("pipeline") or ""))
        found = next((tr for tr in pipeline.transitions if tr.name == name),
                     None) if fdef.type == "state" and pipeline else None
        if found is not None:
            step, condition = label(found.label, name), found.condition
    if isinstance(error, ValidationFailed):
        title = t("“%(step)s” is not possible yet.", step=step)
    else:
        title = t("“%(step)s” was refused.", step=step)
    if isinstance(error, ValidationFailed):
        reasons = ([_reason(detail, visible, condition) for detail in error.errors]
                   or [error.message])
    else:
        reasons = [refusal_text(error)]
    return TransitionRefusal(name, title, list(dict.fromkeys(reasons)))


def condition_reason(pointer: str, condition: Any, visible: EntityDef) -> str:
    """The failed part of a guard condition at `pointer`, as a sentence."""
    part = part_at(condition, pointer)
    if part is None:
        return t("The record does not meet the condition of this step.")
    return condition_sentence(part, visible, ValueDisplay(model()))


def _reason(detail: ErrorDetail, visible: EntityDef, condition: Any = None) -> str:
    if detail.pointer.startswith(CONDITION):
        return condition_reason(detail.pointer, condition, visible)
    name = pointer_field(detail.pointer)
    fdef = visible.field(name) if name else None
    if fdef is None:
        if name and REQUIRED_BY in detail.message:
            return t("This step needs a field your roles do not show; ask a colleague.")
        return detail.message
    if REQUIRED_BY in detail.message:
        return t("%(field)s must be filled in first.", field=label(fdef.label, name))
    return f"{label(fdef.label, name)}: {detail.message}"


# --- reference lookups -----------------------------------------------------------------------


@web_record.get("/lookup/<entity>")
@login_required
def lookup(entity: str) -> Response | tuple[Response, int]:
    """`{"results": [{"id", "title"}]}`: up to 20 records the user may read matching `q`."""
    subject = web_subject()
    records = services().records
    q = (request.args.get("q") or "").strip()[:200]
    try:
        visible = records.visible_entity(subject, entity)
        fields = [name for name in visible.title_field_names
                  if visible.has_field(name)] or ["id"]
        try:
            page = records.list(subject, entity, q=q or None, limit=LOOKUP_LIMIT,
                                fields=fields)
        except ValidationFailed:
            page = records.list(subject, entity, criteria=_fallback(visible, q),
                                limit=LOOKUP_LIMIT, fields=fields)
    except MetacrmError as error:
        return jsonify({"error": error.message}), error.status
    display = ValueDisplay(model(), fetch=record_reader(subject))
    display.prefetch(visible, page.records)
    return jsonify({"results": [{"id": r["id"], "title": display.title(visible, r)}
                                for r in page.records]})


def _fallback(visible: EntityDef, q: str) -> Mapping[str, Any]:
    """Without search fields: the title contains `q`, or `q` is the id."""
    if visible.title_field and visible.has_field(visible.title_field):
        return {"or": [{"field": visible.title_field, "op": "contains", "value": q},
                       {"field": "id", "op": "eq", "value": q}]}
    return {"field": "id", "op": "eq", "value": q}
