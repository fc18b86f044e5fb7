"""The conversion API: `POST /api/v1/records/<entity>/<id>/convert`.

The optional body chooses the conversion and what to do with each target (docs/api.md,
"Converting a record"):
`{"conversion": "<name>", "targets": {"<target>": {"skip": true} | {"use": "<id>"} |
{"values": {...}}}}`. The answer is 200 `{"data": {"record": <source>, "targets": {...}}}`
with the source record's ETag. `If-Match` names the source version the conversion must find
(412 otherwise); `Idempotency-Key` makes a retry replay the first answer instead of
converting again.

Thin: parse, authenticate, call `ConversionService` (feature `conversion`), render.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.etag import expected_version, record_etag
from metacrm.api.idempotency import idempotent
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.services.conversion.service import ConversionService

conversion_api = Blueprint("metacrm_conversion", __name__, url_prefix=f"{API_PREFIX}/records")


def _service() -> ConversionService:
    return web_runtime().services.conversion


@conversion_api.post("/<entity>/<record_id>/convert")
def convert_record(entity: str, record_id: str) -> Response:
    actor, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    expected = expected_version(request.headers.get("If-Match"), record_id)

    def convert() -> Response:
        result = _service().convert(subject, entity, record_id, _body(),
                                    expected_version=expected)
        response = jsonify({"data": result})
        response.headers["ETag"] = record_etag(result["record"])
        return response

    return idempotent(actor.user_id, convert)


def _body() -> Any:
    """The request body; none at all means "the only conversion, every target made"."""
    if not request.get_data(cache=True):
        return None
    return json_body()
