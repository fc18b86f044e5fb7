"""The import API (issue 14): files in, records out, as a background job.

* `POST /api/v1/imports` (multipart: `file`, `entity`, `mapping` — a JSON object or a saved
  mapping's name —, `mode`, `key`, `dry_run`, `silent`, `save_mapping`) -> 202 with the
  import and `Location`; the same file with the same options again -> the earlier import;
* `POST /api/v1/imports/preview` (multipart: `file`, `entity`) -> the columns, the first
  rows and the suggested mapping;
* `GET /api/v1/imports/<id>` -> status, counts, progress, the first errors, the error
  file's link; `GET /api/v1/imports/<id>/errors` -> the failing rows as CSV;
* `POST /api/v1/imports/<id>/revert` -> the reverted import.

An import is its importer's (and admins'): anyone else gets 404, since its summary and
error file hold the file's data. Thin: parse, authenticate, call `ImportService`, render.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import request_subject
from metacrm.api.request_parsing import reject_parameters
from metacrm.imports.service import MAX_FILE_BYTES, ImportRequest, ImportService
from metacrm.imports.status import import_json
from metacrm.kernel.errors import ErrorDetail, ValidationFailed

IMPORTS = f"{API_PREFIX}/imports"
imports_api = Blueprint("metacrm_imports", __name__, url_prefix=IMPORTS)

FORM_FIELDS = ("entity", "mapping", "mode", "key", "dry_run", "silent", "save_mapping")
FLAGS = {"true": True, "false": False, "1": True, "0": False, "": False}


def _service() -> ImportService:
    return web_runtime().services.imports


def _upload(allowed: tuple[str, ...]) -> tuple[str, bytes, dict[str, str]]:
    """The uploaded file and the form fields (unknown ones refused, each given once)."""
    request.max_content_length = MAX_FILE_BYTES + 1024 * 1024
    reject_parameters(request.args.items(multi=True))
    errors: list[ErrorDetail] = []
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise ValidationFailed("expected a multipart/form-data upload", [
            ErrorDetail("send the file as multipart/form-data", "/file")])
    form: dict[str, str] = {}
    for name, value in request.form.items(multi=True):
        if name not in allowed:
            errors.append(ErrorDetail(f"unknown field; expected {', '.join(allowed)}",
                                      f"/{name}"))
        elif name in form:
            errors.append(ErrorDetail("given more than once", f"/{name}"))
        else:
            form[name] = value
    files = request.files.getlist("file")
    if len(files) != 1:
        errors.append(ErrorDetail("send exactly one file", "/file"))
    if not form.get("entity"):
        errors.append(ErrorDetail("required", "/entity"))
    if errors:
        raise ValidationFailed("invalid import request", errors)
    upload = files[0]
    return upload.filename or "upload.csv", upload.read(), form


def _flag(form: dict[str, str], name: str, errors: list[ErrorDetail]) -> bool:
    value = form.get(name, "false").strip().lower()
    if value not in FLAGS:
        errors.append(ErrorDetail("must be true or false", f"/{name}"))
        return False
    return FLAGS[value]


def _mapping(text: str | None, errors: list[ErrorDetail]) -> Any:
    if text is None or not text.strip():
        return None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            errors.append(ErrorDetail(f"not JSON: {exc}", "/mapping"))
            return None
    return text.strip()


def _answer(data: dict[str, Any], status: int = 200) -> Response:
    response = jsonify({"data": data})
    response.status_code = status
    return response


@imports_api.post("")
def start_import() -> Response:
    _, subject = request_subject()
    file_name, content, form = _upload(("file", *FORM_FIELDS))
    errors: list[ErrorDetail] = []
    dry_run, silent = _flag(form, "dry_run", errors), _flag(form, "silent", errors)
    mapping = _mapping(form.get("mapping"), errors)
    if errors:
        raise ValidationFailed("invalid import request", errors)
    stored = _service().start(subject, ImportRequest(
        entity=form["entity"], file_name=file_name, content=content, mapping=mapping,
        mode=form.get("mode", "create"),
        key=tuple(p.strip() for p in form.get("key", "").split(",") if p.strip()),
        dry_run=dry_run, silent=silent, save_mapping=form.get("save_mapping") or None))
    stored = _service().get(subject, stored.id)  # as it is after an inline run
    response = _answer(import_json(stored, base_url=IMPORTS), 202)
    response.headers["Location"] = f"{IMPORTS}/{stored.id}"
    return response


@imports_api.post("/preview")
def preview_import() -> Response:
    _, subject = request_subject()
    file_name, content, form = _upload(("file", "entity"))
    return _answer(_service().preview(subject, form["entity"], file_name, content))


@imports_api.get("/<import_id>")
def get_import(import_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    return _answer(import_json(_service().get(subject, import_id), base_url=IMPORTS))


@imports_api.get("/<import_id>/errors")
def import_errors(import_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    body = _service().error_file(subject, import_id)
    response = Response("\ufeff" + body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="import-{import_id}-errors.csv"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


@imports_api.post("/<import_id>/revert")
def revert_import(import_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    return _answer(import_json(_service().revert(subject, import_id), base_url=IMPORTS))
