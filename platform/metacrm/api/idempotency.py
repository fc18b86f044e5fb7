"""`Idempotency-Key` on POST: a retried create answers what the first attempt answered.

Usage in a handler: `return idempotent(actor.user_id, lambda: do_the_work())`.

* no header: the work runs as usual;
* first request with a key: the key is reserved for (user, key) with a hash of the request
  (method, path, query and JSON body); a successful (2xx) answer is stored for 24 hours; an
  error answer changed nothing (units of work are all or nothing), so the key is released
  and a retry runs again;
* a retry (same user, key and request): the stored status, headers and body, marked
  `Idempotent-Replayed: true`;
* the same key with a different request: 422; while the first request is still running:
  409 (retry later).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from flask import Response, current_app, request

from metacrm.api import web_runtime
from metacrm.kernel.errors import Conflict, ErrorDetail, ValidationFailed
from metacrm.storage import idempotency as store

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location", "ETag", "Deprecation", "Sunset", "Link")
"""Headers a replay repeats (a deprecated shape stays announced; several `Link`s are kept
as one comma-separated value, which RFC 8288 allows)."""


def idempotent(user_id: str, produce: Callable[[], Response]) -> Response:
    """Run `produce` at most once per Idempotency-Key of this user (see module docstring)."""
    key = request.headers.get(HEADER)
    if key is None:
        return produce()
    _check_key(key)
    engine = web_runtime().engine
    outcome = store.reserve(engine, user_id, key, _request_hash())
    if isinstance(outcome, store.StoredAnswer):
        return _replay(outcome)
    if isinstance(outcome, store.KeyReused):
        raise ValidationFailed(
            "this Idempotency-Key was already used for a different request",
            [ErrorDetail("was used with another method, URL or body; use a new key for a new "
                         "request", f"/{HEADER}", "header")],
        )
    if isinstance(outcome, store.InProgress):
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            [ErrorDetail("is in use by a request in progress", f"/{HEADER}", "header")],
        )
    try:
        response = produce()
    except BaseException:
        store.release(engine, user_id, key)
        raise
    if 200 <= response.status_code < 300:
        headers = {name: ", ".join(response.headers.getlist(name)) for name in STORED_HEADERS
                   if name in response.headers}
        store.complete(engine, user_id, key, status=response.status_code, headers=headers,
                       body=response.get_data(as_text=True))
    else:
        store.release(engine, user_id, key)
    return response


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= store.KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise ValidationFailed("invalid Idempotency-Key header", [ErrorDetail(
            f"must be 1 to {store.KEY_LENGTH} visible ASCII characters (a UUID is a good key)",
            f"/{HEADER}", "header")])


def _request_hash() -> str:
    """Hash of what makes two requests the same: method, path, query and the JSON body
    (parsed and re-serialised with sorted keys, so key order and spacing do not matter)."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):
        body = raw.decode("utf-8", "replace")
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1"), body):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _replay(answer: store.StoredAnswer) -> Response:
    response = current_app.response_class(
        answer.body, status=answer.status, mimetype="application/json")
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response
