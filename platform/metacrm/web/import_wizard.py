"""The import wizard: upload -> mapping -> dry run -> run with progress (`/app/import/…`).

Thin over `ImportService` (the engine of the CLI and the API): the upload step reads the
file's header and suggests a field per column; the mapping step posts the chosen fields
with the file itself (carried in the form, base64 — so the wizard keeps no state between
steps; files up to the app's request limit, larger ones go through the CLI or the API);
"Check" starts a dry run and "Import" the real run, both shown on the import's page, which
reloads itself while the job runs. An import's page is its importer's and admins' only.

"Next: values" (optional) shows, for each column going to a picklist or a pipeline's state,
the file's distinct values with the field's values to map them to (`Prospecting` -> the
`qualification` stage), and for a column going to a reference whether missing referenced
records are created and what a blank cell names — the mapping's `values` and `references`
(docs/import.md), carried to "Check" and "Import" like the columns.

A saved mapping (`--save-mapping`, the mapping step's "Save this mapping as") is picked on
the mapping step: "Use this mapping" shows the step again with its columns and number
format chosen, and carries its name, so the values step starts from its values and the
import keeps what the form does not show (`owner`, `date_format`, `timezone`, reference
rules) — what the user changes on the steps wins.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from flask import Response, redirect, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from metacrm.imports.mapping import NOT_IMPORTABLE, OWNER
from metacrm.imports.service import ImportRequest, ImportService
from metacrm.imports.status import import_json
from metacrm.kernel.errors import ErrorDetail, Forbidden, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import label, t

web_import = screen_blueprint("web_import", __name__, url_prefix="/app/import")

Page = str | BaseResponse | Response
MODES = ("create", "update", "upsert")
CHOICE_TYPES = ("picklist", "multi_picklist", "state")
"""Field types whose file values the values step maps one by one."""
EMPTY = "__empty__"
"""The value choice "leave the field empty" (a `null` in the mapping's values)."""
CARRIED = ("file_name", "content", "mode", "key", "locale", "silent", "save_mapping",
           "saved_mapping")
"""Inputs of the mapping step the values step passes on unchanged."""
_VALUE_INPUT = re.compile(r"^value-(?P<field>[a-z][a-z0-9_]*)-(?P<index>\d+)-(?P<part>from|to)$")


def _service() -> ImportService:
    return services().services.imports


def _entity(name: str) -> EntityDef:
    """The entity as the user may know it; 403 without the import right (404: no entity)."""
    subject = web_subject()
    runtime = services().records.runtime()
    if not runtime.policy.scope(subject, name, "import").allowed:
        raise Forbidden(f"your roles do not allow importing {name} records",
                        [ErrorDetail("needs the import right on the entity", "")])
    return runtime.policy.visible_entity(subject, name)


def _choices(entity: EntityDef) -> list[tuple[str, str]]:
    fields = [(f.name, label(f.label, f.name)) for f in entity.fields
              if f.type not in NOT_IMPORTABLE and not f.read_only]
    return [*fields, (OWNER, t("Owner"))]


@web_import.route("/<entity_name>", methods=["GET", "POST"])
@login_required
def upload(entity_name: str) -> Page:
    entity = _entity(entity_name)
    error = None
    if request.method == "POST":
        upload_file = request.files.get("file")
        content = upload_file.read() if upload_file else b""
        if not content:
            error = t("Choose a CSV or XLSX file.")
        else:
            file_name = (upload_file.filename if upload_file else None) or "upload.csv"
            try:
                preview = _service().preview(web_subject(), entity.name, file_name, content)
            except ValidationFailed as exc:
                error = "; ".join(e.message for e in exc.errors) or exc.message
            else:
                return _mapping_step(entity, preview, file_name, content, None)
    return render_template("metacrm/import_upload.html", entity=entity, error=error,
                           entity_label=label(entity.plural_label or entity.label,
                                              entity.name))


def _mapping_step(entity: EntityDef, preview: Mapping[str, Any], file_name: str,
                  content: bytes, saved: tuple[str, Mapping[str, Any]] | None) -> str:
    """The mapping step, its columns chosen from the saved mapping `saved` (name, body)
    or, without one, as suggested."""
    chosen = saved[1] if saved else preview["suggested_mapping"]
    columns = chosen.get("columns") or {}
    return render_template(
        "metacrm/import_mapping.html", entity=entity,
        entity_label=label(entity.plural_label or entity.label, entity.name),
        preview=preview, choices=_choices(entity), file_name=file_name,
        content=base64.b64encode(content).decode(), modes=MODES,
        selected={column: columns.get(column) for column in preview["columns"]},
        locale=chosen.get("locale") or "en", saved_name=saved[0] if saved else "")


@web_import.post("/<entity_name>/mapping")
@login_required
def use_saved(entity_name: str) -> Page:
    """"Use this mapping": the mapping step again, filled from the chosen saved mapping."""
    entity = _entity(entity_name)
    form = request.form
    name = (form.get("saved_mapping") or "").strip()
    if not name:
        raise ValidationFailed(t("Choose a saved mapping."), [
            ErrorDetail(t("Choose a saved mapping."), "/saved_mapping")])
    content = _content(form)
    file_name = form.get("file_name") or "upload.csv"
    service, subject = _service(), web_subject()
    saved = service.saved_mapping(subject, entity.name, name)
    preview = service.preview(subject, entity.name, file_name, content)
    return _mapping_step(entity, preview, file_name, content, (name, saved))


def _content(form: Mapping[str, str]) -> bytes:
    try:
        return base64.b64decode(form.get("content", ""), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(t("The file was lost on the way; upload it again."),
                               []) from None


def _columns(form: MultiDict[str, str]) -> dict[str, str | None]:
    return {name[len("column-"):]: value or None for name, value in form.items()
            if name.startswith("column-")}


@web_import.post("/<entity_name>/values")
@login_required
def values(entity_name: str) -> Page:
    """The values step: the mapped picklist, state and reference columns' values."""
    entity = _entity(entity_name)
    form = request.form
    columns = _columns(form)
    model = services().records.runtime().model
    choice_columns = {column: fdef for column, name in columns.items()
                      if name and (fdef := entity.field(name)) is not None
                      and fdef.type in CHOICE_TYPES}
    saved = _saved(entity, form)
    found = _service().column_values(web_subject(), entity.name,
                                     form.get("file_name") or "upload.csv", _content(form),
                                     list(choice_columns))
    saved_values = saved.get("values") or {}
    saved_references = saved.get("references") or {}
    rows = [{"column": column, "field": fdef, "values": found[column],
             "choices": _value_choices(model, fdef),
             "chosen": _chosen_values(saved_values.get(fdef.name) or {})}
            for column, fdef in choice_columns.items()]
    references = [{"column": column, "field": fdef,
                   "create_missing": bool((saved_references.get(fdef.name) or {})
                                          .get("create_missing")),
                   "blank": (saved_values.get(fdef.name) or {}).get("") or ""}
                  for column, name in columns.items()
                  if name and (fdef := entity.field(name)) is not None
                  and fdef.type == "reference"]
    return render_template(
        "metacrm/import_values.html", entity=entity,
        entity_label=label(entity.plural_label or entity.label, entity.name), rows=rows,
        references=references, columns=columns, empty=EMPTY,
        carried=[(name, value) for name in CARRIED for value in form.getlist(name)])


def _saved(entity: EntityDef, form: Mapping[str, str]) -> Mapping[str, Any]:
    """The saved mapping the user picked on the mapping step (carried by name), or {}."""
    name = form.get("saved_mapping") or ""
    return _service().saved_mapping(web_subject(), entity.name, name) if name else {}


def _chosen_values(saved: Mapping[str, Any]) -> dict[str, str]:
    """A saved mapping's values of one field as the values step's choices."""
    return {source: EMPTY if target is None else str(target)
            for source, target in saved.items()}


def _value_choices(model: Any, fdef: Any) -> list[tuple[str, str]]:
    """The stored values a file value may be mapped to: the picklist's, or the states of
    the field's pipeline."""
    if fdef.type == "state":
        pipeline = model.pipelines.get(str(fdef.option("pipeline")))
        states = pipeline.states if pipeline is not None else ()
        return [(state.name, label(state.label, state.name)) for state in states]
    return [(choice.value, label(choice.label, choice.value)) for choice in fdef.choices]


def _value_mapping(form: MultiDict[str, str]) -> dict[str, dict[str, str | None]]:
    """The mapping's `values` from the values step's pairs and blank-cell inputs."""
    pairs: dict[tuple[str, str], dict[str, str]] = {}
    for name, value in form.items():
        found = _VALUE_INPUT.match(name)
        if found:
            pairs.setdefault((found["field"], found["index"]), {})[found["part"]] = value
    mapped: dict[str, dict[str, str | None]] = {}
    for (field_name, _), pair in pairs.items():
        target = pair.get("to", "")
        if target:
            mapped.setdefault(field_name, {})[pair.get("from", "")] = (
                None if target == EMPTY else target)
    for name, value in form.items():
        if name.startswith("blank-") and value.strip():
            mapped.setdefault(name[len("blank-"):], {})[""] = value.strip()
    return mapped


def _references(form: MultiDict[str, str]) -> dict[str, dict[str, Any]]:
    return {name[len("create-missing-"):]: {"create_missing": True}
            for name, value in form.items()
            if name.startswith("create-missing-") and value == "1"}


def _form_mapping(form: MultiDict[str, str], saved: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping the steps' form describes, over the picked saved mapping: the form's
    columns and number format; for a field the values step showed, its choices (else the
    saved values); reference rules with the form's "create missing" where it was shown."""
    mapping: dict[str, Any] = {key: value for key, value in saved.items()
                               if key not in ("columns", "values", "references")}
    mapping["columns"] = _columns(form)
    mapping["locale"] = form.get("locale", "en")
    shown = {found["field"] for name in form if (found := _VALUE_INPUT.match(name))}
    shown |= {name[len("blank-"):] for name in form if name.startswith("blank-")}
    value_mapping: dict[str, Any] = {name: dict(values) for name, values
                                     in (saved.get("values") or {}).items()
                                     if name not in shown}
    value_mapping.update(_value_mapping(form))
    if value_mapping:
        mapping["values"] = value_mapping
    references: dict[str, dict[str, Any]] = {
        name: dict(rule) for name, rule in (saved.get("references") or {}).items()}
    chosen = _references(form)
    for name in shown:
        if name in references or name in chosen:
            references.setdefault(name, {})["create_missing"] = name in chosen
    if references:
        mapping["references"] = references
    return mapping


@web_import.post("/<entity_name>/start")
@login_required
def start(entity_name: str) -> Page:
    entity = _entity(entity_name)
    form = request.form
    content = _content(form)
    mapping = _form_mapping(form, _saved(entity, form))
    stored = _service().start(web_subject(), ImportRequest(
        entity=entity.name, file_name=form.get("file_name") or "upload.csv",
        content=content, mapping=mapping,
        mode=form.get("mode", "create"),
        key=tuple(k for k in form.getlist("key") if k),
        dry_run=form.get("action") == "check", silent=form.get("silent") == "1",
        save_mapping=form.get("save_mapping") or None))
    return redirect(f"/app/import/status/{stored.id}")


@web_import.get("/status/<import_id>")
@login_required
def status(import_id: str) -> Page:
    stored = _service().get(web_subject(), import_id)
    data = import_json(stored)
    model = services().records.runtime().model
    entity = model.entities.get(stored.entity)
    return render_template(
        "metacrm/import_status.html", data=data,
        entity_label=label(entity.plural_label or entity.label, stored.entity)
        if entity else stored.entity,
        running=data["status"] in ("queued", "running"))


@web_import.post("/status/<import_id>/revert")
@login_required
def revert(import_id: str) -> Page:
    _service().revert(web_subject(), import_id)
    return redirect(f"/app/import/status/{import_id}")
