"""The import wizard: upload -> mapping -> dry run -> run with progress (`/app/import/…`).

Thin over `ImportService` (the engine of the CLI and the API): the upload step reads the
file's header and suggests a field per column; the mapping step posts the chosen fields
with the file itself (carried in the form, base64 — so the wizard keeps no state between
steps; files up to the app's request limit, larger ones go through the CLI or the API);
"Check" starts a dry run and "Import" the real run, both shown on the import's page, which
reloads itself while the job runs. An import's page is its importer's and admins' only.
"""

from __future__ import annotations

import base64
import binascii

from flask import Response, redirect, render_template, request
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
                return render_template(
                    "metacrm/import_mapping.html", entity=entity,
                    entity_label=label(entity.plural_label or entity.label, entity.name),
                    preview=preview, choices=_choices(entity), file_name=file_name,
                    content=base64.b64encode(content).decode(), modes=MODES)
    return render_template("metacrm/import_upload.html", entity=entity, error=error,
                           entity_label=label(entity.plural_label or entity.label,
                                              entity.name))


@web_import.post("/<entity_name>/start")
@login_required
def start(entity_name: str) -> Page:
    entity = _entity(entity_name)
    form = request.form
    try:
        content = base64.b64decode(form.get("content", ""), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(t("The file was lost on the way; upload it again."),
                               []) from None
    columns = {name[len("column-"):]: value or None for name, value in form.items()
               if name.startswith("column-")}
    stored = _service().start(web_subject(), ImportRequest(
        entity=entity.name, file_name=form.get("file_name") or "upload.csv",
        content=content, mapping={"columns": columns, "locale": form.get("locale", "en")},
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
