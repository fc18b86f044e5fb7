"""Duplicates in the API: a record's duplicates, a pre-check of values about to be saved,
and the scan of an entity for groups of duplicates.

`GET /records/<entity>/<id>/duplicates`, `POST /records/<entity>/duplicates/check`
(`{"values": {...}, "exclude": id?}`) and `GET /records/<entity>/duplicates/scan` answer
`{"data": [...], "meta": {"hidden_duplicates": n, "blocked": bool}}`; only records the
caller may read are named (services.duplicates.review). `POST /records/<entity>/duplicates/
scans` queues the scan as a background job (202) and `GET .../scans/<id>` reads it
(jobs.duplicate_scans).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX
from metacrm.api.context import api_services, live_entity, request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.jobs.duplicate_scans import DuplicateScans
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.duplicates.checks import DuplicateCheck
from metacrm.services.duplicates.review import DuplicateReview

duplicates_api = Blueprint("metacrm_duplicates", __name__, url_prefix=f"{API_PREFIX}/records")

CHECK_KEYS = frozenset({"values", "exclude"})


def _review() -> DuplicateReview:
    return DuplicateReview(api_services().records)


def _answer(check: DuplicateCheck) -> Response:
    return jsonify({"data": check.warnings(),
                    "meta": {"hidden_duplicates": check.hidden_count,
                             "blocked": check.blocked}})


@duplicates_api.get("/<entity>/<record_id>/duplicates")
def record_duplicates(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    return _answer(_review().of_record(subject, entity, record_id))


@duplicates_api.post("/<entity>/duplicates/check")
def check_duplicates(entity: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    body = json_body()
    if not isinstance(body, dict) or not set(body) <= CHECK_KEYS or "values" not in body:
        raise ValidationFailed("invalid duplicate check", [ErrorDetail(
            'must be {"values": {...}, "exclude": "<id>"?}', "")])
    exclude = body.get("exclude")
    if exclude is not None and not isinstance(exclude, str):
        raise ValidationFailed("invalid duplicate check", [
            ErrorDetail("must be a record id", "/exclude")])
    return _answer(_review().check(subject, entity, body["values"], exclude=exclude))


@duplicates_api.get("/<entity>/duplicates/scan")
def scan_duplicates(entity: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    groups = _review().scan(subject, entity)
    return jsonify({"data": [group.to_json() for group in groups]})


def _scans() -> DuplicateScans:
    return api_services().services.duplicate_scans


@duplicates_api.post("/<entity>/duplicates/scans")
def request_scan(entity: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    response = jsonify({"data": _scans().request(subject, entity)})
    response.status_code = 202
    return response


@duplicates_api.get("/<entity>/duplicates/scans/<scan_id>")
def read_scan(entity: str, scan_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    return jsonify({"data": _scans().read(subject, entity, scan_id)})
