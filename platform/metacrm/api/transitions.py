"""The pipeline transitions API: what a record may go through next, and going through it.

* `GET /api/v1/records/<entity>/<id>/transitions` -> `{"transitions": [...]}`: the
  transitions out of the record's current state(s) the caller's roles may perform, each with
  `allowed`, `missing` (required fields without a value) and `condition_met`;
* `POST /api/v1/records/<entity>/<id>/transitions/<name>` with an optional body
  `{"values": {...}}` (fields set in the same step) -> 200 `{"data": record}` with its ETag;
  `If-Match` is honoured as on PATCH (412 when the record changed since). A transition a
  conversion owns (into the state the conversion leads to) answers 409 with the problem's
  `convert` member naming `POST /api/v1/records/<entity>/<id>/convert`, which performs it
  with the records the conversion makes.

Thin: parse, authenticate, call `TransitionService` (feature `transitions`), render. The
rules and every error answer are the service's (see `metacrm.services.transitions.service`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.etag import expected_version, record_etag
from metacrm.api.filter_parsing import escape
from metacrm.api.problems import json_body, problem_response
from metacrm.api.request_parsing import reject_parameters
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.transitions.guards import ConversionRequired
from metacrm.services.transitions.service import TransitionService

transitions_api = Blueprint("metacrm_transitions", __name__,
                            url_prefix=f"{API_PREFIX}/records")

BODY_KEYS = ("values",)


def _service() -> TransitionService:
    return web_runtime().services.transitions


@transitions_api.get("/<entity>/<record_id>/transitions")
def list_transitions(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    return jsonify({"transitions": _service().available(subject, entity, record_id)})


@transitions_api.post("/<entity>/<record_id>/transitions/<name>")
def perform_transition(entity: str, record_id: str, name: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    expected = expected_version(request.headers.get("If-Match"), record_id)
    values = _values()
    try:
        record = _service().transition(subject, entity, record_id, name, values,
                                       expected_version=expected)
    except ConversionRequired as refused:
        return _convert_instead(refused)
    response = jsonify({"data": record})
    response.headers["ETag"] = record_etag(record)
    return response


def _convert_instead(refused: ConversionRequired) -> Response:
    """The 409 pointing at the conversion endpoint that performs the transition."""
    url = f"{API_PREFIX}/records/{refused.entity}/{refused.record_id}/convert"
    return problem_response(
        refused.status, f"{refused.message} (POST {url})", title=refused.title,
        errors=refused.errors,
        convert={"method": "POST", "href": url, "conversion": refused.conversion})


def _values() -> Mapping[str, Any] | None:
    """The `values` of the body; no body (or `{}`) sets nothing but the state."""
    if not request.get_data(cache=True):
        return None
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationFailed("the request body must be a JSON object", [
            ErrorDetail('must be an object such as {"values": {...}}', "")])
    unknown = [ErrorDetail(f"unknown key {key!r}; the body takes: values", f"/{escape(key)}")
               for key in body if key not in BODY_KEYS]
    if unknown:
        raise ValidationFailed("invalid transition request", unknown)
    values = body.get("values")
    if values is not None and not isinstance(values, dict):
        raise ValidationFailed("invalid transition request", [
            ErrorDetail("must be an object of field values", "/values")])
    return values
