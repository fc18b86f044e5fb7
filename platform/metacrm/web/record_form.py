"""The record forms: create (`/app/r/<entity>/new`) and edit (`/app/r/<entity>/<id>/edit`).

A form shows a widget per visible field, in the sections of the entity's form layout
(`form_fields`, `form_layout`). A post is read into the JSON payload of the records service
(`form_parsing`), which validates it and applies field security; its errors come back beside
the fields they are about, with the typed values kept. Edits carry the version they were
made from (`_version`): a record changed by someone else meanwhile is not overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import replace
from typing import Any

from flask import flash, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import (
    Forbidden,
    MetacrmError,
    NotFound,
    StaleRecord,
    ValidationFailed,
)
from metacrm.marketing.mailings.content_lock import locked_fields
from metacrm.services.records.actions import record_actions
from metacrm.services.records.service import DUPLICATES
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.duplicate_panel import error_panel
from metacrm.web.form_fields import (
    FormValue,
    Widget,
    active_users,
    build_widgets,
    default_form_values,
    record_form_values,
)
from metacrm.web.form_layout import sections
from metacrm.web.form_parsing import FormData, ParsedForm, field_errors, parse_form
from metacrm.web.i18n import label, t
from metacrm.web.record_page import (
    VERSION_FIELD,
    model,
    posted_version,
    record_url,
    reference_fields,
)
from metacrm.web.values import ValueDisplay, record_reader

web_record_form = screen_blueprint("web_record_form", __name__, url_prefix="/app/r")


class FormPage:
    """What one form needs: the entity as the user sees it, its widgets and layout."""

    def __init__(self, subject: AccessSubject, entity: str, *, creating: bool) -> None:
        records = services().records
        self.subject = subject
        self.name = entity
        self.creating = creating
        self.live = records.runtime().policy.entity(entity)
        self.visible = records.visible_entity(subject, entity)
        access = records.runtime().policy.field_access(subject, entity)
        needs_users = any(f.type == "user" for f in self.visible.fields)
        users = active_users(services().engine) if needs_users else ()
        self.widgets: dict[str, Widget] = build_widgets(
            self.visible, access, services().registry, creating=creating, users=users,
            link_targets=readable_entities(subject))

    def lock(self, names: Set[str]) -> None:
        """Show `names` as text: fields the record's own state fixes (a started
        mailing's content, `marketing.mailings.content_lock`); the save refuses them too."""
        self.widgets = {name: replace(widget, read_only=True, required=False)
                        if name in names else widget
                        for name, widget in self.widgets.items()}

    def render(self, *, values: Mapping[str, FormValue], record: Mapping[str, Any] | None,
               error: MetacrmError | None = None, version: Any = None,
               status: int = 200) -> tuple[str, int]:
        shown = [name for name, widget in self.widgets.items() if not widget.read_only]
        by_field, general = field_errors(error, shown)
        if isinstance(error, StaleRecord):
            general = [t("Someone else changed this record after you opened it. Your "
                         "values are kept below; reload the record to see the change.")]
        display = ValueDisplay(model(), _titles(self.subject, self.widgets, values, record),
                               fetch=record_reader(self.subject))
        if record is not None:
            display.load_users(services().engine, ValueDisplay.user_ids(self.visible,
                                                                        [record]))
        entity_label = label(self.visible.label, self.name)
        title = (t("New %(entity)s", entity=entity_label) if record is None
                 else display.title(self.visible, record))
        page = render_template(
            "metacrm/form.html", entity=self.visible, entity_label=entity_label,
            plural_label=label(self.visible.plural_label, self.name), title=title,
            creating=self.creating, record=record or {}, form_widgets=self.widgets,
            sections=sections(model(), self.visible), values=values, errors=by_field,
            general_errors=general, display=display, version=version,
            duplicates=error_panel(self.name, error),
            reference_titles=_reference_titles(self.widgets, values, display),
            action=(f"/app/r/{self.name}/new" if record is None
                    else f"/app/r/{self.name}/{record['id']}/edit"),
            cancel=(f"/app/r/{self.name}" if record is None
                    else record_url(self.name, str(record["id"]))),
        )
        return page, status

    def parse(self) -> ParsedForm:
        return parse_form(request.form, self.live)

    def prefilled(self, args: FormData) -> dict[str, FormValue]:
        """Inputs a link fills in (`?company=<id>`, `?regarding.entity=…&regarding.id=…`
        from a related list's "New"): only fields this form lets the user write; the
        records service still checks every value on save."""
        writable = [name for name, widget in self.widgets.items() if not widget.read_only]
        return parse_form(args, self.live, only=writable).submitted


# --- create ---------------------------------------------------------------------------------


@web_record_form.route("/<entity>/new", methods=["GET", "POST"])
@login_required
def create_record(entity: str) -> BaseResponse | tuple[str, int]:
    subject = web_subject()
    records = services().records
    if not records.runtime().policy.scope(subject, entity, "create").allowed:
        raise Forbidden(t("Your roles do not allow creating these records."))
    form = FormPage(subject, entity, creating=True)
    values = default_form_values(form.widgets)
    if request.method == "GET":
        values.update(form.prefilled(request.args))
        return form.render(values=values, record=None)
    parsed = form.parse()
    values.update(parsed.submitted)
    # empty inputs are left out, so the fields' defaults apply
    payload = {k: v for k, v in parsed.payload.items() if v is not None}
    try:
        if parsed.errors:
            raise _unreadable(parsed)
        created = records.create(subject, entity, payload)
    except NotFound:
        raise
    except MetacrmError as error:
        return form.render(values=values, record=None, error=error, status=error.status)
    flash(t("Saved."), "success")
    if created.get(DUPLICATES):
        flash(t("Possible duplicates: see the panel on the record."), "warning")
    return redirect(record_url(entity, str(created["id"])))


# --- edit -----------------------------------------------------------------------------------


@web_record_form.route("/<entity>/<record_id>/edit", methods=["GET", "POST"])
@login_required
def edit_record(entity: str, record_id: str) -> BaseResponse | tuple[str, int]:
    subject = web_subject()
    records = services().records
    form = FormPage(subject, entity, creating=False)
    record = records.get(subject, entity, record_id,
                         include=reference_fields(form.visible))
    form.lock(locked_fields(entity, record))
    current = record_form_values(form.widgets, record)
    if request.method == "GET":
        actions = record_actions(records, subject, entity, record_id)
        if not actions.update:
            raise Forbidden(actions.locked or t("Your roles do not allow changing this "
                                                "record."))
        return form.render(values=current, record=record, version=record.get("version"))
    parsed = form.parse()
    values = {**current, **parsed.submitted}
    version = request.form.get(VERSION_FIELD) or record.get("version")
    # only what the user changed: an untouched input never overwrites (or re-validates)
    changes = {name: value for name, value in parsed.payload.items()
               if name not in current or parsed.submitted.get(name) != current[name]}
    try:
        if parsed.errors:
            raise _unreadable(parsed)
        saved = records.update(subject, entity, record_id, changes,
                               expected_version=posted_version())
    except NotFound:
        raise
    except MetacrmError as error:
        return form.render(values=values, record=record, error=error, version=version,
                           status=error.status)
    flash(t("Saved."), "success")
    if saved.get(DUPLICATES):
        flash(t("Possible duplicates: see the panel on the record."), "warning")
    return redirect(record_url(entity, record_id))


def _unreadable(parsed: ParsedForm) -> MetacrmError:
    return ValidationFailed(t("Some values could not be read."), parsed.errors)


# --- reference titles -----------------------------------------------------------------------


def _titles(subject: AccessSubject, widgets: Mapping[str, Widget],
            values: Mapping[str, FormValue], record: Mapping[str, Any] | None
            ) -> dict[str, dict[str, dict[str, Any]]]:
    """The referenced records the form names (read with the user's scope), so reference
    inputs show titles, not ids: the record's includes, else one read per reference."""
    included: dict[str, dict[str, dict[str, Any]]] = {
        name: dict(found) for name, found in ((record or {}).get("_included") or {}).items()}
    records = services().records
    for name, widget in widgets.items():
        value = values.get(name)
        if widget.kind != "reference" or not isinstance(value, str) or not value:
            continue
        if value in included.get(name, {}):
            continue
        try:
            page = records.list(subject, widget.target,
                                criteria={"field": "id", "op": "eq", "value": value},
                                limit=1)
        except MetacrmError:
            continue
        included.setdefault(name, {}).update({str(r["id"]): r for r in page.records})
    return included


def readable_entities(subject: AccessSubject) -> dict[str, str]:
    """Label of each entity the subject may read: what regarding links may offer."""
    policy = services().records.runtime().policy
    return {name: label(entity.label, name) for name, entity in policy.model.entities.items()
            if policy.scope(subject, name, "read").allowed}


def _reference_titles(widgets: Mapping[str, Widget], values: Mapping[str, FormValue],
                      display: ValueDisplay) -> dict[str, str]:
    titles = {}
    for name, widget in widgets.items():
        value = values.get(name)
        if widget.kind == "regarding" and isinstance(value, Mapping) and value.get("id"):
            titles[name] = display.link_title(str(value.get("entity")),
                                              str(value.get("id"))) or ""
        if widget.kind == "reference" and isinstance(value, str) and value:
            found = display.included.get(name, {}).get(value)
            target = display.model.entity(widget.target)
            if found is not None and target is not None:
                titles[name] = display.title(target, found)
    return titles
