"""Every error answer is an RFC 9457 problem document (`application/problem+json`).

Sources of errors and how they are rendered:

* `MetacrmError` (bad input, not found, conflicts, 401/403 of identity...): its own status
  and `to_problem()`, `errors` pointing (JSON Pointer) at what is wrong;
* marshmallow `ValidationError` (a payload schema): 422, one entry per message;
* werkzeug `HTTPException` (unknown route 404, 405, 415, malformed JSON 400, rate limit 429
  with Retry-After): status, reason phrase and description;
* JSON error bodies that Flask-AppBuilder and Flask-JWT-Extended write themselves (login
  API: `{"message": ...}`, JWT checks: `{"msg": ...}`): rewritten after the fact;
* a value the database refuses (SQLAlchemy `DataError`: a NUL character in text on
  PostgreSQL, a number out of range...): 400 with the database's one-line reason — a
  safety net behind validation, so that such input never turns into a 500;
* anything else: 500 with an incident id; the traceback goes to the log, never the client.

Outside `/api/` a browser (a client preferring HTML) keeps werkzeug's HTML error pages.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter.errors import RateLimitExceeded
from marshmallow import ValidationError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
)

from metacrm.api import API_PREFIX
from metacrm.kernel.errors import ErrorDetail, MetacrmError

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger(__name__)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Iterable[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
    **members: Any,
) -> Response:
    """A problem document answer; `members` adds extension members (e.g. `instance`)."""
    document: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _phrase(status),
        "status": status,
        "detail": detail,
        "errors": [_entry(e) for e in errors],
        **members,
    }
    return _render(document, status, headers)


def register_problem_handlers(app: Flask) -> None:
    """Install the handlers described in the module docstring on `app`."""
    app.register_error_handler(MetacrmError, _metacrm_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(DataError, _refused_value)
    app.register_error_handler(Exception, _unexpected)
    app.after_request(_rewrite_foreign_errors)


def json_body() -> Any:
    """The request's JSON document: 415 unless the body is declared JSON, 400 if it does not
    parse. (Requiring the JSON media type also keeps plain cross-site HTML forms out.)"""
    if not request.is_json:
        raise UnsupportedMediaType(
            "the request body must be JSON, sent with 'Content-Type: application/json'"
        )
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


def validation_errors(messages: Any, pointer: str = "") -> list[ErrorDetail]:
    """Flatten marshmallow's error messages into pointer + message entries."""
    if isinstance(messages, Mapping):
        found: list[ErrorDetail] = []
        for key, value in messages.items():
            inner = pointer if key == "_schema" else f"{pointer}/{_escape(str(key))}"
            found.extend(validation_errors(value, inner))
        return found
    if isinstance(messages, list | tuple):
        found = []
        for item in messages:
            found.extend(validation_errors(item, pointer))
        return found
    return [ErrorDetail(str(messages), pointer)]


def _metacrm_error(exc: MetacrmError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return _render(exc.to_problem(), exc.status, headers)


def _validation_error(exc: ValidationError) -> Response:
    return problem_response(
        422,
        "the request body is not valid",
        title="Validation failed",
        errors=validation_errors(exc.messages),
    )


def _http_exception(exc: HTTPException) -> Response | HTTPException:
    if _wants_html():
        return exc
    status = exc.code or 500
    headers = {
        name: value
        for name, value in exc.get_headers()
        if name.lower() not in ("content-type", "content-length")
    }
    if isinstance(exc, RateLimitExceeded):
        headers.setdefault("Retry-After", str(int(exc.limit.limit.get_expiry())))
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return problem_response(status, _describe(exc), headers=headers)


def _refused_value(exc: DataError) -> Response:
    reason = str(getattr(exc, "orig", None) or "").strip().splitlines()
    log.warning("database refused a value on %s %s: %s", request.method, request.path,
                reason[0] if reason else exc)
    detail = "the database refused a value of the request"
    return problem_response(400, f"{detail}: {reason[0]}" if reason else detail)


def _unexpected(exc: Exception) -> Response | HTTPException:
    incident = str(uuid.uuid4())
    log.exception("unexpected error (incident %s) on %s %s", incident, request.method,
                  request.path)
    if _wants_html():
        return InternalServerError()
    return problem_response(
        500,
        f"an unexpected error occurred; it was logged as incident {incident}",
        instance=f"urn:uuid:{incident}",
    )


def _rewrite_foreign_errors(response: Response) -> Response:
    """Turn the JSON errors FAB and Flask-JWT-Extended write into problem documents."""
    if (
        response.status_code < 400
        or response.mimetype != "application/json"
        or not request.path.startswith(API_PREFIX + "/")
    ):
        return response
    body = response.get_json(silent=True)
    message = body.get("message", body.get("msg")) if isinstance(body, dict) else None
    status = response.status_code
    errors: list[ErrorDetail] = []
    if status >= 500:
        log.error("%s %s answered %s: %s", request.method, request.path, status, message)
        detail = "an unexpected error occurred; it was logged"
    elif isinstance(message, dict | list):
        errors = validation_errors(message)
        detail = "the request is not valid"
    else:
        detail = str(message) if message else _phrase(status)
    headers = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return problem_response(status, detail, errors=errors, headers=headers)


def _describe(exc: HTTPException) -> str:
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(exc.valid_methods or ()))
        return f"{request.method} is not allowed on {request.path}" + (
            f"; allowed: {allowed}" if allowed else ""
        )
    if isinstance(exc, NotFound) and exc.description == NotFound.description:
        return f"there is nothing at {request.path}"
    if isinstance(exc, RateLimitExceeded):
        return f"rate limit exceeded ({exc.description}); retry after Retry-After seconds"
    return str(exc.description or _phrase(exc.code or 500))


def _wants_html() -> bool:
    if request.path.startswith("/api/"):
        return False
    accept = request.accept_mimetypes
    return accept.accept_html and accept.quality("text/html") > accept.quality(
        "application/json"
    )


def _render(document: Mapping[str, Any], status: int, headers: Mapping[str, str] | None
            ) -> Response:
    response = current_app.response_class(
        current_app.json.dumps(document), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _entry(detail: ErrorDetail) -> dict[str, str]:
    entry = {"pointer": detail.pointer, "message": detail.message}
    if detail.source:
        entry["source"] = detail.source
    return entry


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
