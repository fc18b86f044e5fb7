"""The webhooks API: subscriptions, secret rotation, the delivery log, redelivery.

Thin: each handler parses the request, authenticates, calls one `WebhookService` method and
renders `{"data": ...}` (lists add `{"meta": {"next_cursor"}}`). Subscriptions carry an
ETag (`"<id>:<version>"`); PATCH and DELETE honour `If-Match` like the records API. A
subscription pinning a deprecated payload version is answered with the `Deprecation`,
`Sunset` and `Link` headers (`api.deprecation`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import request_subject
from metacrm.api.deprecation import announce
from metacrm.api.etag import expected_version, record_etag
from metacrm.api.idempotency import idempotent
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters, single_parameters
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.kernel.ids import looks_like_id
from metacrm.webhooks.formats import payload_format
from metacrm.webhooks.service import DEFAULT_LIMIT, MAX_LIMIT, Page, WebhookService

webhooks_api = Blueprint("metacrm_webhooks", __name__, url_prefix=f"{API_PREFIX}/webhooks")


def _service() -> WebhookService:
    return web_runtime().services.webhooks


@webhooks_api.get("")
def list_webhooks() -> Response:
    _, subject = request_subject()
    limit, cursor, _ = _page_args(request.args.items(multi=True), ())
    return _page(_service().list(subject, limit=limit, cursor=cursor))


@webhooks_api.post("")
def create_webhook() -> Response:
    actor, subject = request_subject()
    reject_parameters(request.args.items(multi=True))

    def create() -> Response:
        created = _service().create(subject, json_body())
        response = _single(created, status=201)
        response.headers["Location"] = url_for("metacrm_webhooks.get_webhook",
                                               webhook_id=created["id"])
        return response

    return idempotent(actor.user_id, create)


@webhooks_api.get("/<webhook_id>")
def get_webhook(webhook_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    return _single(_service().get(subject, webhook_id))


@webhooks_api.patch("/<webhook_id>")
def update_webhook(webhook_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    expected = expected_version(request.headers.get("If-Match"), webhook_id)
    return _single(_service().update(subject, webhook_id, json_body(),
                                     expected_version=expected))


@webhooks_api.delete("/<webhook_id>")
def delete_webhook(webhook_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    expected = expected_version(request.headers.get("If-Match"), webhook_id)
    _service().delete(subject, webhook_id, expected_version=expected)
    return Response(status=204)


@webhooks_api.post("/<webhook_id>/rotate-secret")
def rotate_secret(webhook_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    body = json_body() if request.get_data(cache=True) else None  # the body is optional
    return _single(_service().rotate_secret(subject, webhook_id, body))


@webhooks_api.get("/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str) -> Response:
    _, subject = request_subject()
    limit, cursor, extra = _page_args(request.args.items(multi=True), ("event_id",))
    if "event_id" in extra and not looks_like_id(extra["event_id"]):
        raise ValidationFailed("invalid request", [
            ErrorDetail("must be an event id (a UUID)", "/event_id")])
    return _page(_service().deliveries(subject, webhook_id, limit=limit, cursor=cursor,
                                       event_id=extra.get("event_id")))


@webhooks_api.post("/<webhook_id>/deliveries/<event_id>/redeliver")
def redeliver(webhook_id: str, event_id: str) -> Response:
    _, subject = request_subject()
    reject_parameters(request.args.items(multi=True))
    response = jsonify({"data": _service().redeliver(subject, webhook_id, event_id)})
    response.status_code = 202
    return response


# --- parsing and rendering ------------------------------------------------------------------


def _page_args(
    pairs: Iterable[tuple[str, str]], extra_names: tuple[str, ...]
) -> tuple[int, str | None, dict[str, str]]:
    errors: list[ErrorDetail] = []
    values = single_parameters(pairs, ("limit", "cursor", *extra_names), errors)
    limit = DEFAULT_LIMIT
    text = values.pop("limit", None)
    if text is not None:
        stripped = text.strip()
        if (not stripped.isascii() or not stripped.isdigit() or len(stripped) > 4
                or not 1 <= int(stripped) <= MAX_LIMIT):
            errors.append(ErrorDetail(f"must be a whole number from 1 to {MAX_LIMIT}",
                                      "/limit"))
        else:
            limit = int(stripped)
    if errors:
        raise ValidationFailed("invalid request", errors)
    return limit, values.pop("cursor", None), values


def _page(page: Page) -> Response:
    return jsonify({"data": page.data, "meta": {"next_cursor": page.next_cursor}})


def _single(document: dict[str, Any], *, status: int = 200) -> Response:
    response = jsonify({"data": document})
    response.status_code = status
    response.headers["ETag"] = record_etag(document)
    pinned = payload_format(document["payload_version"])
    if pinned is not None and pinned.deprecation is not None:
        announce(response, pinned.deprecation)
    return response
