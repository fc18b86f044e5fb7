"""The list view of every entity (`/app/r/<entity>`): columns from view metadata, sort,
quick search, a filter builder writing criteria, keyset pagination, saved views, bulk
actions (assign, transition, delete, export) and inline edit.

One page is ONE `RecordsService.list` call (limit 50 by default, referenced titles through
`include=`), plus one query for the users the page names — no query per row. Access is the
services': the page asks the policy only what to *offer* (a "New" button, bulk buttons,
editable cells); every action is refused by the services when forced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Response, flash, jsonify, redirect, render_template, request
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.identity.fab_directory import user_listings
from metacrm.kernel.errors import (
    ErrorDetail,
    Forbidden,
    MetacrmError,
    NotFound,
    ValidationFailed,
)
from metacrm.metadata.model import EntityDef
from metacrm.services.export.records import export_records
from metacrm.services.records.actions import records_actions
from metacrm.services.records.listing import RecordPage
from metacrm.services.users.saved_views import SavedView, SavedViewsService, ViewDefinition
from metacrm.web import list_bulk, list_mass_update, print_jobs
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import label, t, tn
from metacrm.web.list_columns import (
    Column,
    build_columns,
    column_names,
    field_label,
    filter_fields,
    filter_value_text,
    list_views,
    operator_label,
    selectable_columns,
)
from metacrm.web.list_export import XLSX_MIMETYPE, ExportTable, csv_text, xlsx_bytes
from metacrm.web.list_inline import InlineValueError, inline_value
from metacrm.web.list_query import PAGE_SIZES, ListState, resolve
from metacrm.web.refusals import refusal_text
from metacrm.web.values import ValueDisplay, record_reader

web_list = screen_blueprint("web_list", __name__, url_prefix="/app/r")

META_PREFIX = "meta:"
EXPORT_KINDS = ("csv", "xlsx")
MAX_USERS_OFFERED = 200


@dataclass(frozen=True)
class ListContext:
    """What every route of one entity's list needs: who asks, the entity as they may see
    it, the view they started from and the checked state of the request."""

    subject: AccessSubject
    entity: str
    visible: EntityDef
    state: ListState
    view_label: str
    saved: SavedView | None

    @property
    def path(self) -> str:
        return f"/app/r/{self.entity}"


def _allowed(subject: AccessSubject, entity: str, operation: str) -> bool:
    return services().records.runtime().policy.scope(subject, entity, operation).allowed


def _require_read(subject: AccessSubject, entity: str) -> None:
    if not _allowed(subject, entity, "read"):  # NotFound for an unknown entity
        raise Forbidden(f"your roles do not allow read on {entity!r} records",
                        [ErrorDetail(f"no role grants read on {entity!r}", "")])


def _may_save_segment(entity: str) -> bool:
    from metacrm.web.segment_save import may_save_segment  # it imports this module

    return may_save_segment(entity)


def _views() -> SavedViewsService:
    return SavedViewsService(services().records)


def list_context(entity: str, pairs: Sequence[tuple[str, str]]) -> ListContext:
    subject = web_subject()
    _require_read(subject, entity)
    records = services().records
    visible = records.visible_entity(subject, entity)
    view = next((value for name, value in pairs if name == "view"), "").strip()
    base, view_label, saved = _base_view(subject, entity, view)
    state = resolve(pairs, base, visible, services().registry, view=view)
    state = replace(state, columns=column_names(visible, state.columns))
    return ListContext(subject, entity, visible, state, view_label, saved)


def _base_view(subject: AccessSubject, entity: str, view: str
               ) -> tuple[ViewDefinition, str, SavedView | None]:
    """The definition a list starts from: a metadata list view or a saved view."""
    model = services().records.runtime().model
    meta = list_views(model, entity)
    if view.startswith(META_PREFIX):
        found = next((v for v in meta if v.name == view[len(META_PREFIX):]), None)
        if found is None:
            raise NotFound(f"list view {view} does not exist",
                           [ErrorDetail("no such view", "/view")])
        meta = [found]
    elif view:
        saved = _views().get(subject, entity, view)
        return saved.definition, saved.name, saved
    if not meta:
        return ViewDefinition(), "", None
    first = meta[0]
    return (ViewDefinition(columns=first.columns, filter=first.filter, sort=first.sort),
            label(first.label, first.name), None)


# --- the page ---------------------------------------------------------------------------


@web_list.get("/<entity>")
@login_required
def list_page(entity: str) -> tuple[str, int]:
    context = list_context(entity, list(request.args.items(multi=True)))
    state = context.state
    errors = list(state.errors)
    page: RecordPage | None = None
    records = services().records
    runtime = records.runtime()
    subject = context.subject
    columns = build_columns(
        context.visible, state.columns, services().registry,
        may_update=_allowed(subject, entity, "update"),
        access=runtime.policy.field_access(subject, entity))
    if state.query is not None:
        try:
            page = records.list(
                subject, entity, criteria=state.criteria, sort=state.query.sort,
                limit=state.limit, cursor=state.cursor, q=state.query.q,
                fields=_fields(context.visible, columns),
                include=[c.name for c in columns if c.type == "reference"])
        except ValidationFailed as error:
            errors.extend(error.errors or [ErrorDetail(error.message)])
    display = ValueDisplay(runtime.model, page.included if page else None,
                           fetch=record_reader(subject))
    if page is not None:
        display.prefetch(context.visible, page.records,
                         [c.name for c in columns if c.type == "regarding"])
        display.load_users(services().engine,
                           ValueDisplay.user_ids(context.visible, page.records))
    users = _active_users()
    status = 422 if errors else 200
    return render_template(
        "metacrm/list.html",
        entity=entity, definition=context.visible, context=context, state=state,
        columns=columns, page=page,
        rows=_rows(columns, _title_column(context.visible, columns), context.visible, page,
                   display, _editable(subject, entity, columns, page)),
        errors=[_error_text(context.visible, e) for e in errors],
        entity_label=label(context.visible.plural_label, entity),
        count_text=_count_text(page),
        filter_fields=filter_fields(runtime.model, context.visible, services().registry,
                                    users),
        operator_label=operator_label, selectable_columns=selectable_columns(context.visible),
        filter_value_text=filter_value_text,
        meta_views=[(f"{META_PREFIX}{v.name}", label(v.label, v.name))
                    for v in list_views(runtime.model, entity)],
        saved_views=_views().visible(subject, entity),
        may_save_segment=_may_save_segment,
        users=users, page_sizes=PAGE_SIZES,
        transitions=list_bulk.transition_choices(runtime.model, records, subject, entity)
        if _allowed(subject, entity, "update") else [],
        mass_fields=list_mass_update.field_labels(list_mass_update.editable_widgets(
            records, subject, entity, users_offered=users))
        if _allowed(subject, entity, "update") else [],
        print_templates=print_jobs.template_choices(runtime.model, entity),
        can_create=_allowed(subject, entity, "create"),
        can_update=_allowed(subject, entity, "update"),
        can_delete=_allowed(subject, entity, "delete"),
        can_export=_allowed(subject, entity, "export"),
        can_import=_allowed(subject, entity, "import"),
        state_query=_query_text(state),
    ), status


def _fields(entity: EntityDef, columns: Sequence[Column]) -> list[str]:
    """The fields to read: the columns' and the title field (system columns always come)."""
    names = [c.name for c in columns if entity.has_field(c.name)]
    for name in (entity.title_field, *entity.title_field_names):
        if name and entity.has_field(name) and name not in names:
            names.append(name)
    if not names and entity.field_names:
        names.append(entity.field_names[0])
    return names


def _title_column(entity: EntityDef, columns: Sequence[Column]) -> str:
    names = [c.name for c in columns]
    if entity.title_field in names:
        return str(entity.title_field)
    return names[0] if names else ""


@dataclass(frozen=True)
class Cell:
    column: Column
    html: Markup
    raw: str
    """The value as the inline editor starts from it."""
    link: bool = False
    """The title cell: its text links to the record page."""


@dataclass(frozen=True)
class Row:
    id: str
    version: int
    title: str
    cells: list[Cell]
    editable: bool = False
    """The user may change this record now (its cells get inline editors)."""


def _editable(subject: AccessSubject, entity: str, columns: Sequence[Column],
              page: RecordPage | None) -> set[str]:
    """The ids of the page's records the user may edit now: in their update scope and in
    no state locked for them — the others' cells are rendered read-only."""
    if page is None or not any(column.editor for column in columns):
        return set()
    actions = records_actions(services().records, subject, entity,
                              [str(record["id"]) for record in page.records])
    return {record_id for record_id, allowed in actions.items() if allowed.update}


def _rows(columns: Sequence[Column], title_column: str, entity: EntityDef,
          page: RecordPage | None, display: ValueDisplay, editable: set[str]) -> list[Row]:
    if page is None:
        return []
    rows = []
    for record in page.records:
        cells = []
        for column in columns:
            if column.name == title_column:
                text = display.text(entity, column.name, record) or str(record["id"])
                cells.append(Cell(column, escape(text), _raw(record.get(column.name)), True))
            else:
                cells.append(Cell(column, display.html(entity, column.name, record),
                                  _raw(record.get(column.name))))
        rows.append(Row(str(record["id"]), int(record.get("version") or 0),
                        display.title(entity, record), cells, str(record["id"]) in editable))
    return rows


def _raw(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _count_text(page: RecordPage | None) -> str:
    if page is None:
        return ""
    if page.count_is_estimate:
        return t("about %(count)s records", count=page.count)
    return tn("%(count)s record", "%(count)s records", page.count)


def _error_text(entity: EntityDef, error: ErrorDetail) -> str:
    """A filter problem as a sentence naming the field: `/filter/amount/gt` -> Amount."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in error.pointer.split("/")[1:]]
    if parts[:1] == ["filter"] and len(parts) >= 2:
        where = field_label(entity, parts[1])
        if len(parts) >= 3:
            where = f"{where} ({operator_label(parts[2])})"
        return f"{where}: {error.message}"
    names = {"sort": t("Sort"), "q": t("Search"), "cursor": t("Page"),
             "limit": t("Page size"), "criteria": t("Filter"), "filter": t("Filter")}
    if parts and parts[0] in names:
        return f"{names[parts[0]]}: {error.message}"
    return error.message


def _query_text(state: ListState) -> str:
    return urlencode(state.pairs())


def _active_users() -> list[tuple[str, str]]:
    with services().engine.connect() as conn:
        return [(u.id, u.name) for u in user_listings(conn, active_only=True,
                                                      limit=MAX_USERS_OFFERED)]


# --- saved views ------------------------------------------------------------------------


@web_list.post("/<entity>/views")
@login_required
def save_view(entity: str) -> BaseResponse:
    context = list_context(entity, parse_qsl(request.form.get("state", "")))
    if context.state.query is None:
        flash(t("The view was not saved: fix the filter first."), "error")
        return redirect(context.state.url(context.path))
    try:
        saved = _views().save(context.subject, entity, request.form.get("name", ""),
                              context.state.definition(),
                              shared=request.form.get("shared") in ("1", "on", "true"))
    except ValidationFailed:
        flash(t("Give the view a name of at most 200 characters."), "error")
        return redirect(context.state.url(context.path))
    flash(t("View “%(name)s” saved.", name=saved.name), "success")
    return redirect(f"{context.path}?view={saved.id}")


@web_list.post("/<entity>/views/<view_id>/delete")
@login_required
def delete_view(entity: str, view_id: str) -> BaseResponse:
    subject = web_subject()
    _views().delete(subject, entity, view_id)
    flash(t("The view was deleted."), "success")
    return redirect(f"/app/r/{entity}")


# --- bulk actions -----------------------------------------------------------------------


@web_list.post("/<entity>/bulk")
@login_required
def bulk(entity: str) -> BaseResponse:
    context = list_context(entity, parse_qsl(request.form.get("state", "")))
    back = context.state.url(context.path)
    action = request.form.get("action", "")
    ids = [i for i in dict.fromkeys(request.form.getlist("ids")) if i][:list_bulk.MAX_SELECTED]
    if action in ("export", "export_xlsx"):
        return _export(context, ids or None, kind="xlsx" if action == "export_xlsx" else "csv",
                       raw=request.form.get("raw") == "1")
    if not ids:
        flash(t("Select at least one record first."), "error")
        return redirect(back)
    records = services().records
    subject = context.subject
    if action == "assign":
        owner = request.form.get("owner", "").strip()
        if not owner:
            flash(t("Choose the new owner first."), "error")
            return redirect(back)
        outcome = list_bulk.assign(records, subject, entity, ids, owner)
        done = tn("%(count)s record assigned.", "%(count)s records assigned.", outcome.done)
    elif action == "transition":
        transitions = services().services.transitions
        outcome = list_bulk.transition(transitions, subject, entity, ids,
                                       request.form.get("transition", ""))
        done = tn("%(count)s record moved.", "%(count)s records moved.", outcome.done)
    elif action == "print":
        return print_jobs.start(subject, entity, request.form.get("print_template", ""), ids)
    elif action == "delete":
        outcome = list_bulk.delete(records, subject, entity, ids)
        done = tn("%(count)s record deleted.", "%(count)s records deleted.", outcome.done)
    else:
        raise ValidationFailed("unknown bulk action", [ErrorDetail(
            "must be assign, transition, print, delete, export or export_xlsx", "/action")])
    if outcome.done:
        flash(done, "success")
    for title, why in outcome.failures:
        flash(t("%(record)s: %(reason)s", record=title, reason=why), "error")
    return redirect(back)


@web_list.get("/<entity>/export.<kind>")
@login_required
def export_file(entity: str, kind: str) -> BaseResponse:
    """The list as CSV or XLSX (`raw=1`: ids and codes instead of what the list shows)."""
    if kind not in EXPORT_KINDS:
        raise NotFound(f"no {kind} export", [ErrorDetail("use .csv or .xlsx", "")])
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "raw"]
    return _export(list_context(entity, pairs), None, kind=kind,
                   raw=request.args.get("raw") == "1")


def _export(context: ListContext, ids: list[str] | None, *, kind: str = "csv",
            raw: bool = False) -> BaseResponse:
    state = context.state
    if state.query is None:
        raise ValidationFailed(t("The filter is not valid."), state.errors)
    rows = export_records(services().records, context.subject, context.entity,
                          criteria=state.criteria, q=state.query.q, sort=state.query.sort,
                          ids=ids)
    display = ValueDisplay(services().records.runtime().model,
                           fetch=record_reader(context.subject))
    if not raw:
        display.load_users(services().engine,
                           ValueDisplay.user_ids(context.visible, rows.records))
    table = ExportTable(context.visible, rows, state.columns, display, raw=raw)
    if kind == "xlsx":
        response = Response(xlsx_bytes(table), mimetype=XLSX_MIMETYPE)
    else:
        response = Response(csv_text(table), mimetype="text/csv")
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{context.entity}.{kind}"'
    if rows.truncated:
        response.headers["X-Metacrm-Truncated"] = "1"
    return response


# --- inline edit ------------------------------------------------------------------------


@web_list.post("/<entity>/<record_id>/inline")
@login_required
def inline_edit(entity: str, record_id: str) -> tuple[Response, int]:
    """Change one field of one record; JSON `{text, html, version}` or `{errors}`."""
    subject = web_subject()
    records = services().records
    name = request.form.get("field", "")
    try:
        visible = records.visible_entity(subject, entity)
        fdef = visible.field(name)
        if fdef is None:
            raise ValidationFailed("unknown field", [ErrorDetail(
                t("This field cannot be changed here."), f"/{name}")])
        value = inline_value(fdef, request.form.get("value", ""))
        version = request.form.get("version", "")
        expected = int(version) if version.isdigit() else None
        record = records.update(subject, entity, record_id, {name: value},
                                expected_version=expected)
    except InlineValueError as error:
        return jsonify({"errors": [{"message": str(error), "pointer": f"/{name}"}]}), 422
    except ValidationFailed as error:
        details = [{"message": d.message, "pointer": d.pointer} for d in error.errors]
        return jsonify({"message": error.message,
                        "errors": details or [{"message": error.message, "pointer": ""}]}
                       ), error.status
    except MetacrmError as error:
        message = refusal_text(error)
        return jsonify({"message": message, "errors": [{"message": message, "pointer": ""}]}
                       ), error.status
    model = records.runtime().model
    display = ValueDisplay(model, fetch=record_reader(web_subject()))
    return jsonify({"text": display.text(visible, name, record),
                    "html": str(display.html(visible, name, record)),
                    "value": _raw(record.get(name)),
                    "version": record.get("version")}), 200


__all__ = ["web_list"]
