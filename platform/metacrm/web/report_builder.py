"""The report builder screens: a user builds a summary, matrix (rows x columns), funnel
(the entity's pipeline stages) or list report over an entity they may read, previews it,
keeps it as a private report; administrators share one as a `report` metadata document
(docs/reports.md "Report builder").

* `/app/reports/builder` — the form (entity, kind, up to two dimensions with date buckets,
  a matrix's column dimension, up to three metrics, the list's columns, a filter with the
  list's filter builder) and, on "Preview", the result as the report page shows it;
* `/app/reports/mine/<id>` — a kept report run as its author, with CSV and XLSX of the whole
  result (`/export?format=`), delete, and for administrators "Share" (`/share`).

Every run goes through the report service as the user (their scope and field security):
the form offers only the entities they may read and the fields they may see, and the
document it makes is checked like any ad-hoc report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, abort, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, MetacrmError
from metacrm.metadata.model import EntityDef, ReportDef
from metacrm.reports.private_reports import BUILDER_KINDS, PrivateReports
from metacrm.reports.result import ReportResult
from metacrm.services.metadata.admin import MetadataAdmin
from metacrm.services.users.saved_views import ViewDefinition
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import label, t
from metacrm.web.list_columns import filter_fields, filter_value_text, operator_label
from metacrm.web.list_query import ROW_FIELD, ROW_OP, ROW_VALUE, resolve
from metacrm.web.record_list import _active_users
from metacrm.web.reports_page import (
    ReportTable,
    report_file,
    requested_file_format,
    web_reports,
)
from metacrm.web.values import record_reader

NUMERIC = frozenset({"integer", "decimal", "percent", "money"})
DATES = frozenset({"date", "datetime"})
DIMENSIONS, METRICS = 2, 3


def _bucket_choices() -> list[tuple[str, str]]:
    return [("", t("No date bucket")), ("day", t("Day")), ("week", t("Week")),
            ("month", t("Month")), ("quarter", t("Quarter")), ("year", t("Year"))]


def _kind_labels() -> dict[str, str]:
    return {"summary": t("Summary"), "matrix": t("Matrix (rows × columns)"),
            "funnel": t("Funnel (pipeline stages)"), "list": t("List")}


def _metric_choices() -> list[tuple[str, str]]:
    return [("count", t("Count")), ("count_distinct", t("Count distinct")),
            ("sum", t("Sum")), ("avg", t("Average")), ("min", t("Minimum")),
            ("max", t("Maximum"))]


def _private() -> PrivateReports:
    return PrivateReports(services().services.reports)


def _readable_entities(subject: AccessSubject) -> list[tuple[str, str]]:
    runtime = services().services.records.runtime()
    policy = runtime.policy
    return sorted(((name, label(e.plural_label, name)) for name, e in runtime.model.entities.items()
                   if policy.scope(subject, name, "read").allowed), key=lambda item: item[1])


def _visible(subject: AccessSubject, entity: str) -> EntityDef:
    return services().services.records.runtime().policy.visible_entity(subject, entity)


def body_of(form: MultiDict[str, str], entity: EntityDef) -> tuple[dict[str, Any],
                                                                    list[str]]:
    """The report document the form describes, and what is wrong with the form."""
    kind = form.get("type", "summary")
    body: dict[str, Any] = {"entity": entity.name,
                            "type": kind if kind in BUILDER_KINDS else "summary"}
    problems: list[str] = []
    if body["type"] == "list":
        columns = [c for c in form.getlist("columns") if c]
        if not columns:
            problems.append(t("Choose at least one column."))
        body["columns"] = columns
    elif body["type"] != "funnel":  # a funnel counts entries into its pipeline's states
        body["group_by"] = _dimensions(form.getlist("g"), form.getlist("gb"))
        body["metrics"] = _metrics(form)
    if body["type"] == "matrix":
        across = _dimensions(form.getlist("mc")[:1], form.getlist("mcb")[:1])
        if not across:
            problems.append(t("Choose the field across the columns."))
        body["columns"] = across
    pairs = [("custom", "1"), *((name, value) for name, value in form.items(multi=True)
                                if name in (ROW_FIELD, ROW_OP, ROW_VALUE))]
    state = resolve(pairs, ViewDefinition(), entity, services().registry)
    problems.extend(f"{e.pointer}: {e.message}" if e.pointer else e.message
                    for e in state.errors)
    if state.criteria is not None:
        body["filter"] = state.criteria
    return body, problems


def _dimensions(paths: Sequence[str], buckets: Sequence[str]) -> list[Any]:
    """The chosen dimensions: a path, or `{"field", "bucket"}` when a bucket is chosen."""
    padded = list(buckets) + [""] * (len(paths) - len(buckets))
    return [{"field": path, "bucket": bucket} if bucket else path
            for path, bucket in zip(paths, padded, strict=False) if path]


def _metrics(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The chosen metrics (a count when none is)."""
    metrics: list[dict[str, Any]] = []
    for index, (op, field) in enumerate(zip(form.getlist("mo"), form.getlist("mf"),
                                            strict=False)):
        if not op:
            continue
        metric: dict[str, Any] = {"op": op, "name": f"m{index + 1}_{op}"}
        if field:
            metric["field"] = field
        metrics.append(metric)
    return metrics or [{"op": "count"}]


def _problems(error: MetacrmError) -> list[str]:
    details: Sequence[ErrorDetail] = getattr(error, "errors", ()) or ()
    return [f"{d.pointer}: {d.message}" if d.pointer else d.message for d in details] \
        or [str(error)]


def _result_view(subject: AccessSubject, report: ReportDef, result: ReportResult
                 ) -> dict[str, Any]:
    table = ReportTable(services().services.reports.model(), report, result,
                        record_reader(subject))
    return {"headers": table.headers(), "rows": table.rows(), "chart": table.chart()}


@web_reports.route("/builder", methods=["GET", "POST"])
@login_required
def builder() -> Any:
    subject = web_subject()
    entities = _readable_entities(subject)
    form: MultiDict[str, str] = request.form if request.method == "POST" else request.args
    names = [name for name, _text in entities]
    entity_name = form.get("entity") or (names[0] if names else "")
    context: dict[str, Any] = {"entities": entities, "form": form, "problems": [],
                               "preview": None,
                               "buckets": _bucket_choices(), "ops": _metric_choices(),
                               "kinds": BUILDER_KINDS, "kind_labels": _kind_labels(),
                               "dimension_slots": range(DIMENSIONS),
                               "metric_slots": range(METRICS)}
    if entity_name not in names:
        if form.get("entity"):  # named, but not one the user may read
            abort(403)
        return render_template("metacrm/report_builder.html", entity=None, **context)
    entity = _visible(subject, entity_name)
    context.update(_field_choices(entity))
    context["filter_fields"] = filter_fields(services().services.reports.model(), entity,
                                             services().registry, _active_users())
    context["operator_label"] = operator_label
    context["filter_value_text"] = filter_value_text
    context["filter_rows"] = [(f, o, v) for f, o, v in zip(
        form.getlist(ROW_FIELD), form.getlist(ROW_OP), form.getlist(ROW_VALUE), strict=False)
        if f]
    status = 200
    action = form.get("action", "")
    if action in ("preview", "save"):
        body, problems = body_of(form, entity)
        context["problems"] = problems
        if not problems:
            try:
                if action == "save":
                    report_id = _private().save(subject, form.get("label", ""), body)
                    return redirect(url_for("web_reports.mine", report_id=report_id))
                report = _private().compile(subject, body)
                result = services().services.reports.run(subject, report)
                context["preview"] = _result_view(subject, report, result)
            except MetacrmError as error:
                context["problems"] = _problems(error)
        if context["problems"]:
            status = 422
    return render_template("metacrm/report_builder.html", entity=entity, **context), status


def _field_choices(entity: EntityDef) -> dict[str, Any]:
    """The fields the form offers: groupable ones (with their date-ness), numeric ones for
    sums, every visible one for list columns."""
    fields = [f for f in entity.fields if f.type not in ("rich_text", "file", "files")]
    system = [("owner", t("Owner"), False), ("created_at", t("Created at"), True)]
    groupable = [(f.name, label(f.label, f.name), f.type in DATES) for f in fields] + system
    numeric = [(f.name, label(f.label, f.name)) for f in fields if f.type in NUMERIC]
    columns = [(f.name, label(f.label, f.name)) for f in fields]
    return {"groupable": groupable, "numeric": numeric, "columns": columns}


@web_reports.get("/mine/<report_id>")
@login_required
def mine(report_id: str) -> str:
    subject = web_subject()
    kept, report = _private().definition(subject, report_id)
    problems: list[str] = []
    view: dict[str, Any] = {"headers": [], "rows": [], "chart": None}
    try:
        view = _result_view(subject, report,
                            services().services.reports.run(subject, report))
    except MetacrmError as error:
        problems = _problems(error)
    return render_template("metacrm/private_report.html", kept=kept, report=report,
                           problems=problems, can_share=subject.is_admin, **view)


@web_reports.get("/mine/<report_id>/export")
@login_required
def mine_export(report_id: str) -> Response:
    file_format = requested_file_format()
    subject = web_subject()
    _kept, report = _private().definition(subject, report_id)
    return report_file(services().services.reports.export(subject, report, {}, file_format),
                       file_format, f"report-{report_id}")


@web_reports.post("/mine/<report_id>/delete")
@login_required
def mine_delete(report_id: str) -> Any:
    _private().delete(web_subject(), report_id)
    return redirect(url_for("web_reports.index"))


@web_reports.post("/mine/<report_id>/share")
@login_required
def mine_share(report_id: str) -> Any:
    """Administrators publish a kept report as a `report` metadata document."""
    subject = web_subject()
    if not subject.is_admin:
        abort(403)
    kept, report = _private().definition(subject, report_id)
    name = request.form.get("name", "").strip()
    try:
        MetadataAdmin(services().metadata).put(
            "report", name, _private().shared_document(kept, name),
            author=subject.username, comment=f"share the private report {kept.label!r}")
    except MetacrmError as error:
        return render_template("metacrm/private_report.html", kept=kept, report=report,
                               problems=_problems(error), can_share=True, headers=[],
                               rows=[], chart=None), 422
    return redirect(url_for("web_reports.page", name=name))

