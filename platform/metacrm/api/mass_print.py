"""Mass print over HTTP (the mass print service does the work).

* `POST /api/v1/prints` `{"entity", "template", "ids": [...]}` -> 202 `{"data": job}` with
  `Location` of the job: the PDFs are rendered in the job queue, as the requester;
* `GET /api/v1/prints/<job id>` -> the job (`pending`, `done` with its ZIP and the records
  that failed, `failed` when none could be printed); only its requester sees it (404);
* `GET /api/v1/prints/<job id>/content` -> the ZIP, streamed (404 while there is none).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, request, url_for

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.attachments import content_disposition
from metacrm.api.context import live_entity, request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.documents.mass_print import MassPrintService
from metacrm.kernel.errors import ErrorDetail, ValidationFailed

mass_print_api = Blueprint("metacrm_mass_print", __name__, url_prefix=API_PREFIX)

FIELDS = {"entity", "template", "ids"}


def mass_print() -> MassPrintService:
    return web_runtime().services.mass_print


@mass_print_api.post("/prints")
def request_print() -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    body = json_body()
    if not isinstance(body, Mapping) or set(body) != FIELDS:
        raise ValidationFailed("invalid request", [ErrorDetail(
            'must be {"entity": NAME, "template": NAME, "ids": [record ids]}', "")])
    entity = body["entity"]
    if not isinstance(entity, str) or not entity:
        raise ValidationFailed("invalid request", [ErrorDetail(
            "must be the name of an entity", "/entity")])
    live_entity(entity)
    job = mass_print().request(subject, entity, body["template"], body["ids"])
    response = jsonify({"data": job.to_json()})
    response.status_code = 202
    response.headers["Location"] = url_for("metacrm_mass_print.print_status",
                                           job_id=job.id)
    return response


@mass_print_api.get("/prints/<job_id>")
def print_status(job_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    return jsonify({"data": mass_print().status(subject, job_id).to_json()})


@mass_print_api.get("/prints/<job_id>/content")
def print_content(job_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    job, chunks = mass_print().open(subject, job_id)
    response = Response(chunks, mimetype="application/zip", direct_passthrough=True)
    if job.size is not None:
        response.content_length = job.size
    response.headers["Content-Disposition"] = content_disposition(job.name or "print.zip")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response
