"""The record page's Attachments panel: upload, list, download, delete, generate a document.

Thin: the file and document services do the work and the access checks (the caller's
scoped read of the record for the list and downloads, update rights to upload and delete).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.api.attachments import download
from metacrm.documents.service import DocumentService
from metacrm.files.attachments import Attachment
from metacrm.files.service import FileService
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import label, t

web_record_files = screen_blueprint("web_record_files", __name__, url_prefix="/app/r")
UPLOAD_ROOM = 1024 * 1024
"""Room for the multipart framing and the form's small parts on top of the largest file."""


def _allow_large_uploads() -> None:
    """Uploads may exceed the app's request limit (16 MiB) up to the file limit; set before
    the CSRF check (the blueprint's first hook) parses the form."""
    if request.method == "POST" and (request.path.endswith("/attachments")):
        request.max_content_length = _files().max_bytes + UPLOAD_ROOM


web_record_files.before_request_funcs.setdefault(None, []).insert(0, _allow_large_uploads)


@dataclass(frozen=True)
class AttachmentRow:
    id: str
    name: str
    size: str
    content_type: str
    document: bool
    field: str | None
    field_label: str
    download_url: str


def _files() -> FileService:
    return services().services.files


def _documents() -> DocumentService:
    return services().services.documents


def _record_url(entity: str, record_id: str) -> str:
    return f"/app/r/{entity}/{record_id}"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def attachments_panel(subject: AccessSubject, entity: str, record_id: str
                      ) -> Mapping[str, Any]:
    """What the record page's Attachments panel shows (the record was read already)."""
    items: list[Attachment] = _files().list(subject, entity, record_id)
    templates = sorted(
        ((template.name, label(template.label, template.name))
         for template in services().records.runtime().model.document_templates.values()
         if template.entity == entity), key=lambda pair: pair[1])
    visible = services().records.visible_entity(subject, entity)
    file_fields = {fdef.name: label(fdef.label, fdef.name) for fdef in visible.fields
                   if fdef.type == "file"}
    return {
        "file_fields": list(file_fields.items()),
        "attachments": [AttachmentRow(
            item.id, item.name, human_size(item.size), item.content_type,
            item.template is not None, item.field,
            file_fields.get(item.field or "", item.field or ""),
            f"{_record_url(entity, record_id)}/attachments/{item.id}") for item in items],
        "document_templates": templates,
    }


@web_record_files.post("/<entity>/<record_id>/attachments")
@login_required
def upload(entity: str, record_id: str) -> BaseResponse:
    subject = web_subject()
    service = _files()
    part = request.files.get("file")
    if part is None or not part.filename:
        raise ValidationFailed(t("Choose a file to upload."),
                               [ErrorDetail(t("Choose a file to upload."), "/file")])
    try:
        service.upload(subject, entity, record_id, part.stream, part.filename,
                       field=request.form.get("field") or None)
    except MetacrmError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash(t("The file was attached."), "success")
    return redirect(_record_url(entity, record_id))


@web_record_files.get("/<entity>/<record_id>/attachments/<attachment_id>")
@login_required
def open_attachment(entity: str, record_id: str, attachment_id: str) -> BaseResponse:
    item, chunks = _files().open(web_subject(), entity, record_id, attachment_id)
    return download(item, chunks)


@web_record_files.post("/<entity>/<record_id>/attachments/<attachment_id>/delete")
@login_required
def delete(entity: str, record_id: str, attachment_id: str) -> BaseResponse:
    try:
        _files().delete(web_subject(), entity, record_id, attachment_id)
    except MetacrmError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash(t("The attachment was removed."), "success")
    return redirect(_record_url(entity, record_id))


@web_record_files.post("/<entity>/<record_id>/documents")
@login_required
def generate(entity: str, record_id: str) -> BaseResponse:
    try:
        answer = _documents().request(web_subject(), entity, record_id,
                                      request.form.get("template"))
    except MetacrmError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        if answer.status == "done":
            flash(t("The document was generated."), "success")
        elif answer.status == "failed":
            flash(t("The document could not be generated: %(reason)s",
                    reason=answer.error or ""), "error")
        else:
            flash(t("The document is being generated; it will appear among the attachments."),
                  "success")
    return redirect(_record_url(entity, record_id))
