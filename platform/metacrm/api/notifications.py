"""The caller's notifications over HTTP.

* `GET /api/v1/notifications[?unread=true&limit=50&cursor=…]` -> `{"data": [...], "meta":
  {"unread": n, "next_cursor": …}}`, newest first; each item only while the caller may read
  the record it is about, with that record as they may see it;
* `POST /api/v1/notifications/read` `{"ids": [...]}` or `{"all": true}` -> `{"data":
  {"marked": n, "unread": m}}`. Ids of other users' notifications change nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters, single_parameters
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.notifications.service import MAX_IDS, MAX_LIMIT, NotificationService

notifications_api = Blueprint("metacrm_notifications", __name__,
                              url_prefix=f"{API_PREFIX}/notifications")

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FLAGS = {"true": True, "false": False}


def _service() -> NotificationService:
    return web_runtime().services.notifications


@notifications_api.get("")
def list_notifications() -> Response:
    _, subject = request_subject()
    unread, limit, cursor = _list_args(request.args.items(multi=True))
    page = _service().list(subject, unread_only=unread, limit=limit, cursor=cursor)
    return jsonify({"data": [item.to_json() for item in page.items],
                    "meta": {"unread": page.unread, "next_cursor": page.next_cursor}})


@notifications_api.post("/read")
def mark_read() -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    ids = _read_body(json_body())
    service = _service()
    marked = service.mark_read(subject, ids)
    return jsonify({"data": {"marked": marked, "unread": service.unread_count(subject)}})


def _list_args(pairs: Iterable[tuple[str, str]]) -> tuple[bool, int, str | None]:
    errors: list[ErrorDetail] = []
    values = single_parameters(pairs, ("unread", "limit", "cursor"), errors)
    unread = values.get("unread", "false")
    if unread not in FLAGS:
        errors.append(ErrorDetail("must be true or false", "/unread"))
    limit_text = values.get("limit", "50")
    if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 3
            and 1 <= int(limit_text) <= MAX_LIMIT):
        errors.append(ErrorDetail(f"must be a whole number from 1 to {MAX_LIMIT}", "/limit"))
    cursor = values.get("cursor")
    if cursor is not None and not (len(cursor) <= 200 and cursor.isascii()):
        errors.append(ErrorDetail("not a cursor of this list", "/cursor"))
    if errors:
        raise ValidationFailed("invalid request", errors)
    return FLAGS[unread], int(limit_text), cursor


def _read_body(body: Any) -> list[str] | None:
    """The ids to mark read, or None for all; ValidationFailed names every problem."""
    if not isinstance(body, Mapping) or set(body) - {"ids", "all"} or len(body) != 1:
        raise ValidationFailed("invalid request", [ErrorDetail(
            'must be {"ids": [<notification id>, ...]} or {"all": true}', "")])
    if "all" in body:
        if body["all"] is not True:
            raise ValidationFailed("invalid request", [ErrorDetail("must be true", "/all")])
        return None
    ids = body["ids"]
    if not isinstance(ids, list) or not 0 < len(ids) <= MAX_IDS:
        raise ValidationFailed("invalid request", [ErrorDetail(
            f"must list 1 to {MAX_IDS} notification ids", "/ids")])
    errors = [ErrorDetail("is not a notification id", f"/ids/{index}")
              for index, value in enumerate(ids)
              if not isinstance(value, str) or not UUID.match(value)]
    if errors:
        raise ValidationFailed("invalid request", errors)
    return ids
