"""Documents generated from templates over HTTP (the document service does the work).

* `POST /api/v1/records/<entity>/<id>/documents` `{"template": NAME}` -> 202 `{"data":
  {"id", "status", "attachment", "error"}}` with `Location` of the request: the PDF is
  rendered in the job queue and appears among the record's attachments (the attachment's
  id is the request's id);
* `GET …/documents/<request id>` -> the request's status (`pending`, `running`, `done` with
  the attachment, `failed` with the reason);
* `POST …/documents/preview` `{"template": NAME}` (administrators) -> `{"data": {"html",
  "file_name"}}`: the template's page on this record, without the PDF step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.documents.service import DocumentService
from metacrm.kernel.errors import ErrorDetail, Forbidden, ValidationFailed

documents_api = Blueprint("metacrm_documents", __name__, url_prefix=API_PREFIX)


def document_service() -> DocumentService:
    return web_runtime().services.documents


def _template_name(body: Any) -> str:
    if not isinstance(body, Mapping) or set(body) != {"template"}:
        raise ValidationFailed("invalid request", [ErrorDetail(
            'must be {"template": <document template name>}', "")])
    name = body["template"]
    if not isinstance(name, str) or not name:
        raise ValidationFailed("invalid request", [ErrorDetail(
            "must be the name of a document template", "/template")])
    return name


@documents_api.post("/records/<entity>/<record_id>/documents")
def request_document(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    name = _template_name(json_body())
    answer = document_service().request(subject, entity, record_id, name)
    response = jsonify({"data": answer.to_json()})
    response.status_code = 202
    response.headers["Location"] = url_for(
        "metacrm_documents.document_status", entity=entity, record_id=record_id,
        request_id=answer.id)
    return response


@documents_api.get("/records/<entity>/<record_id>/documents/<request_id>")
def document_status(entity: str, record_id: str, request_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    answer = document_service().status(subject, entity, record_id, request_id)
    return jsonify({"data": answer.to_json()})


@documents_api.post("/records/<entity>/<record_id>/documents/preview")
def preview_document(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    service = document_service()
    if not service.records.runtime().policy.is_admin(subject):
        raise Forbidden("only administrators preview document templates",
                        [ErrorDetail("needs an admin role", "")])
    template = service.template(_template_name(json_body()), entity)
    page, file_name = service.html(subject, template, record_id)
    return jsonify({"data": {"html": page, "file_name": file_name}})
