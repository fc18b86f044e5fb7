"""Mass print from a list (`/app/prints/<job id>`): the bulk bar's *Print ZIP* starts a job
(`metacrm.documents.mass_print`: the PDFs are rendered in the job queue, as the user), and
this page tells how it stands — the records that could not be printed, each with why — and
offers the ZIP once it is ready. Only the user who asked sees the job (404 for anyone else).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Response, redirect, render_template
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.api.attachments import content_disposition
from metacrm.documents.mass_print import MassPrintService
from metacrm.metadata.model import CompiledModel
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import label
from metacrm.web.list_bulk import titles_of

web_print_jobs = screen_blueprint("web_print_jobs", __name__, url_prefix="/app/prints")


def _mass_print() -> MassPrintService:
    return services().services.mass_print


def template_choices(model: CompiledModel, entity: str) -> list[tuple[str, str]]:
    """(name, label) of the document templates of `entity`, for the bulk bar."""
    return sorted(((each.name, label(each.label, each.name))
                   for each in model.document_templates.values() if each.entity == entity),
                  key=lambda choice: choice[1].lower())


def start(subject: AccessSubject, entity: str, template: str, ids: Sequence[str]
          ) -> BaseResponse:
    """The bulk bar's print action: submit the job, then show it."""
    job = _mass_print().request(subject, entity, template, list(ids))
    return redirect(f"/app/prints/{job.id}")


@web_print_jobs.route("/<job_id>")
@login_required
def job_page(job_id: str) -> str:
    subject = web_subject()
    job = _mass_print().status(subject, job_id)
    failed = [item["id"] for item in job.failures]
    titles = titles_of(services().records, subject, job.entity, failed) if failed else {}
    failures = [(titles.get(item["id"], item["id"]), item["reason"]) for item in job.failures]
    model = services().records.runtime().model
    template = model.document_templates.get(job.template)
    return render_template(
        "metacrm/print_job.html", job=job, failures=failures,
        template_label=label(template.label, job.template) if template else job.template,
        list_url=f"/app/r/{job.entity}")


@web_print_jobs.route("/<job_id>/download")
@login_required
def download(job_id: str) -> Response:
    job, chunks = _mass_print().open(web_subject(), job_id)
    response = Response(chunks, mimetype="application/zip", direct_passthrough=True)
    if job.size is not None:
        response.content_length = job.size
    response.headers["Content-Disposition"] = content_disposition(job.name or "print.zip")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
