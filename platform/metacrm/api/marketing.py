"""The marketing API (docs/marketing.md): segments' count preview and freezing, campaign
results.

* `GET /api/v1/records/segment/<id>/count` -> `{"count": n}`: how many members the segment
  resolves to now for the caller (their read scope and field security);
* `POST /api/v1/records/segment/<id>/freeze` -> `{"data": segment}`: a dynamic segment
  becomes a static list of the members the caller resolves now (409 when already static);
* `POST /api/v1/marketing/segment-preview` with `{"entity", "criteria"}` -> `{"count": n}`:
  the count of criteria not yet saved (the segment builder);
* `GET /api/v1/records/campaign/<id>/results` -> leads, persons, deals, won deals, won
  revenue, actual cost, cost per lead and ROI, counted under the caller's scope.

Thin: the rules are `metacrm.marketing`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.marketing.install import Marketing

SEGMENT, CAMPAIGN = "segment", "campaign"
PREVIEW_KEYS = ("entity", "criteria")

marketing_api = Blueprint("metacrm_marketing", __name__, url_prefix=API_PREFIX)


def _marketing() -> Marketing:
    return web_runtime().services.marketing


@marketing_api.get(f"/records/{SEGMENT}/<record_id>/count")
def segment_count(record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(SEGMENT)
    reject_parameters(request.args.items(multi=True))
    return jsonify({"count": _marketing().segments.count(record_id, actor=subject)})


@marketing_api.post(f"/records/{SEGMENT}/<record_id>/freeze")
def freeze_segment(record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(SEGMENT)
    reject_parameters(request.args.items(multi=True))
    return jsonify({"data": _marketing().segments.freeze(record_id, actor=subject)})


@marketing_api.post("/marketing/segment-preview")
def segment_preview() -> Response:
    _, subject = request_subject()
    live_entity(SEGMENT)
    reject_parameters(request.args.items(multi=True))
    body = json_body()
    if not isinstance(body, Mapping):
        raise ValidationFailed("invalid preview", [ErrorDetail(
            "must be an object with entity and criteria", "")])
    unknown = [ErrorDetail(f"unknown member {key!r}", f"/{key}")
               for key in body if key not in PREVIEW_KEYS]
    if unknown:
        raise ValidationFailed("invalid preview", unknown)
    count = _marketing().segments.preview(body.get("entity"), body.get("criteria"),
                                          actor=subject)
    return jsonify({"count": count})


@marketing_api.get(f"/records/{CAMPAIGN}/<record_id>/results")
def campaign_results(record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(CAMPAIGN)
    reject_parameters(request.args.items(multi=True))
    return jsonify(_marketing().campaigns.results(record_id, actor=subject).as_json())
