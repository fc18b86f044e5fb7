"""The document template preview (`/app/admin/documents`): a template on a real record.

An administrator picks a document template, then a record of its entity (a lookup box, so
only records the admin may read are offered), and sees the page the PDF will be made of.
The preview is rendered by the document service exactly as the worker renders it, as the
admin sees the record (field security applies), in the template's sandbox.

The page itself is CSP-strict (nonces). The rendered document is a separate response,
shown in an `<iframe sandbox>`: it carries its own policy — `sandbox` (an opaque origin, no
script, no forms), no network at all (`default-src 'none'`), and only the inline styles a
document template is made of — so nothing a template writes can reach the CRM's pages or
cookies. It may be framed only by this site (`frame-ancestors 'self'`).

*Download PDF preview* starts a mass print of the one record (`web.print_jobs`): the PDF is
rendered in the job queue like every PDF, and the job's page offers it (in a ZIP).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, abort, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.documents.pdf import RenderFailed
from metacrm.documents.service import DocumentService
from metacrm.kernel.errors import MetacrmError
from metacrm.metadata.model import DocumentTemplateDef
from metacrm.web import print_jobs
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services, web_subject
from metacrm.web.i18n import label
from metacrm.web.values import record_title

web_document_preview = screen_blueprint("web_document_preview", __name__,
                                        url_prefix="/app/admin/documents")

FRAME_POLICY = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; "
                "img-src data:; font-src data:; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'self'")
"""The Content-Security-Policy of a rendered preview (see the module's docstring)."""


def _documents() -> DocumentService:
    return services().services.documents


def _templates() -> Mapping[str, DocumentTemplateDef]:
    return services().records.runtime().model.document_templates


def _chosen() -> tuple[DocumentTemplateDef | None, str]:
    """The template and record id the query names (None / "" when absent or unknown)."""
    name = (request.args.get("template") or "").strip()
    record_id = (request.args.get("record") or "").strip()[:64]
    return _templates().get(name), record_id


@web_document_preview.route("")
@admin_required
def preview_page() -> tuple[str, int]:
    template, record_id = _chosen()
    error = ""
    status = 200
    title = ""
    if template is not None and record_id:
        try:  # render once here, so a broken template or a missing record is said plainly
            _documents().html(web_subject(), template, record_id)
            record = services().records.get(web_subject(), template.entity, record_id)
            entity = services().records.runtime().model.entities[template.entity]
            title = record_title(entity, record) or record_id
        except (RenderFailed, MetacrmError) as exc:
            error = _reason(exc)
            status = getattr(exc, "status", 422)
    rows = sorted(((each.name, label(each.label, each.name), each.entity, each.language)
                   for each in _templates().values()), key=lambda row: row[1].lower())
    entity_label = ""
    if template is not None:
        entity_def = services().records.runtime().model.entities.get(template.entity)
        entity_label = label(entity_def.label, template.entity) if entity_def else ""
    return render_template(
        "metacrm/designer/document_preview.html", templates=rows, template=template,
        record_id=record_id, record_title=title, entity_label=entity_label, error=error,
        template_label=label(template.label, template.name) if template else "",
    ), status


@web_document_preview.route("/frame")
@admin_required
def preview_frame() -> Response:
    """The rendered document alone, for the preview page's sandboxed frame."""
    template, record_id = _chosen()
    if template is None or not record_id:
        abort(404)
    page, _name = _documents().html(web_subject(), template, record_id)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = FRAME_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


def _reason(exc: Exception) -> str:
    details: Any = getattr(exc, "errors", None) or ()
    parts = [str(exc)] + [str(detail) for detail in details]
    return "; ".join(part for part in parts if part)


@web_document_preview.route("/pdf", methods=["POST"])
@admin_required
def preview_pdf() -> BaseResponse:
    """The PDF preview: a print job of this one record (rendered in the job queue, never in
    this request); its page offers the PDF in a ZIP once it is ready."""
    name = (request.form.get("template") or "").strip()
    record_id = (request.form.get("record") or "").strip()[:64]
    template = _templates().get(name)
    if template is None or not record_id:
        abort(404)
    return print_jobs.start(web_subject(), template.entity, template.name, [record_id])
