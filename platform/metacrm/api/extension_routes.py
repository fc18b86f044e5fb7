"""The blueprint serving extension packs' routes: `/api/v1/ext/<pack>/<path>`.

The routes themselves live in the pack host (`services.packs`, `metacrm.extension_host`);
this blueprint translates a Flask request into an `ExtRequest` and the handler's
`ExtResponse` (or plain JSON-able value) back, and authenticates non-public routes like
every API call. Errors are
problem documents: metacrm errors (`Refused`, `NotFound`...) through the app's handlers,
`HttpError` with its status, anything else 500 (logged with the pack's name).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import BadRequest

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.problems import problem_response
from metacrm.extension import Caller, ExtRequest, ExtResponse, HttpError
from metacrm.extension_host.contributions import RouteEntry
from metacrm.identity.current import require_actor
from metacrm.kernel.errors import ErrorDetail, MetacrmError, NotFound, ValidationFailed

ext_api = Blueprint("metacrm_ext", __name__, url_prefix=f"{API_PREFIX}/ext")

_log = logging.getLogger(__name__)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@ext_api.route("/<pack>/<path:path>", methods=METHODS)
def serve(pack: str, path: str) -> Response:
    host = web_runtime().services.packs
    found = host.route(pack, request.method, path)
    if found is None:
        raise NotFound(f"pack {pack!r} has no route {path!r}")
    if isinstance(found, frozenset):
        return problem_response(405, f"{request.method} is not allowed here",
                                headers={"Allow": ", ".join(sorted(found))})
    entry, params = found
    caller = None
    if not entry.public:
        actor = require_actor()
        caller = Caller(actor.user_id, actor.username, tuple(actor.roles))
    body = request.get_data(cache=False)
    if entry.request_schema is not None and request.method in BODY_METHODS:
        _check_body(entry, body)
    ext_request = ExtRequest(
        method=request.method, path_params=params,
        query={key: value for key, value in request.args.items()},
        headers={key.lower(): value for key, value in request.headers.items()},
        body=body, caller=caller)
    try:
        result = entry.handler(ext_request)
    except HttpError as exc:
        errors = [ErrorDetail(exc.detail, exc.pointer)] if exc.pointer is not None else []
        return problem_response(exc.status, exc.detail, errors=errors)
    except MetacrmError:
        raise
    except Exception:
        _log.exception("route %s %s of pack %r failed", request.method, path, pack)
        return problem_response(500, f"the route of pack {pack!r} failed")
    return _response(result)


def _check_body(entry: RouteEntry, body: bytes) -> None:
    """Refuse a body that is not JSON (400) or breaks the route's `request_schema` (422,
    every problem with its pointer) before the pack's handler runs."""
    try:
        value = json.loads(body or b"null")
    except ValueError:
        raise BadRequest("the request body is not JSON") from None
    problems = entry.body_problems(value)
    if problems:
        raise ValidationFailed("the request body does not match the route's schema", problems)


def _response(result: Any) -> Response:
    if not isinstance(result, ExtResponse):
        result = ExtResponse(json=result)
    if result.body is not None:
        response = Response(result.body, status=result.status)
    elif result.status == 204:
        response = Response(status=204)
    else:
        response = current_app.response_class(
            current_app.json.dumps(result.json), status=result.status,
            mimetype="application/json")
    for name, value in result.headers.items():
        response.headers[name] = value
    return response
