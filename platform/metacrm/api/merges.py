"""Merging records in the API (services.records.merge).

`POST /records/<entity>/merge/preview` `{"ids": [...]}` → the records side by side;
`POST /records/<entity>/merge` `{"ids", "survivor", "values"}` → 200
`{"data": {"merge", "record", "merged", "references"}}`;
`POST /records/<entity>/merges/<merge id>/undo` → 200 `{"data": {"merge", "record",
"restored"}}`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX
from metacrm.api.context import api_services, live_entity, request_subject
from metacrm.api.idempotency import idempotent
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.records.merge import MergeService

merges_api = Blueprint("metacrm_merges", __name__, url_prefix=f"{API_PREFIX}/records")


def _merges() -> MergeService:
    return MergeService(api_services().records)


@merges_api.post("/<entity>/merge/preview")
def merge_preview(entity: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    body = json_body()
    if not isinstance(body, dict) or set(body) != {"ids"}:
        raise ValidationFailed("invalid merge preview", [
            ErrorDetail('must be {"ids": [...]}', "")])
    return jsonify({"data": _merges().preview(subject, entity, body["ids"])})


@merges_api.post("/<entity>/merge")
def merge_records(entity: str) -> Response:
    actor, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))

    def merge() -> Response:
        return jsonify({"data": _merges().merge(subject, entity, json_body())})

    return idempotent(actor.user_id, merge)


@merges_api.post("/<entity>/merges/<merge_id>/undo")
def undo_merge(entity: str, merge_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    return jsonify({"data": _merges().undo(subject, entity, merge_id)})
