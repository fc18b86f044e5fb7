"""The timeline API: a record's activity feed, newest first, paged by cursor.

`GET /api/v1/records/<entity>/<id>/timeline[?kind=call&kind=change&cursor=…&limit=…]` ->
`{"data": [entry...], "next_cursor": "…" | null, "kinds": [...]}`. `kind` may repeat or
be comma-separated; `kinds` lists every kind this record's timeline may show. Thin: the
rules, access and every error are `TimelineService`'s (`metacrm.services.timeline.service`).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.filter_parsing import escape
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.timeline.service import DEFAULT_LIMIT, TimelineService

timeline_api = Blueprint("metacrm_timeline", __name__, url_prefix=f"{API_PREFIX}/records")

PARAMETERS = ("kind", "cursor", "limit")


def timeline_service() -> TimelineService:
    return web_runtime().services.timeline


@timeline_api.get("/<entity>/<record_id>/timeline")
def record_timeline(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    unknown = [ErrorDetail(f"unknown parameter {name!r}; known: {', '.join(PARAMETERS)}",
                           f"/{escape(name)}") for name in request.args if name not in PARAMETERS]
    if unknown:
        raise ValidationFailed("invalid request", unknown)
    kinds = [kind.strip() for value in request.args.getlist("kind")
             for kind in value.split(",") if kind.strip()]
    cursors = request.args.getlist("cursor")
    limits = request.args.getlist("limit")
    if len(cursors) > 1 or len(limits) > 1:
        raise ValidationFailed("invalid request", [ErrorDetail(
            "give cursor and limit at most once", "/cursor" if len(cursors) > 1 else "/limit")])
    limit = DEFAULT_LIMIT
    if limits:
        if not limits[0].isdigit() or len(limits[0]) > 6:
            raise ValidationFailed("invalid limit", [ErrorDetail(
                "must be a whole number from 1 to 100", "/limit")])
        limit = int(limits[0])
    page = timeline_service().page(subject, entity, record_id, kinds=kinds or None,
                                   cursor=cursors[0] if cursors else None, limit=limit)
    return jsonify({"data": [entry.to_json() for entry in page.entries],
                    "next_cursor": page.next_cursor, "kinds": list(page.kinds)})
