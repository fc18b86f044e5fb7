"""Marking API operations and response shapes deprecated, in the answers and in OpenAPI.

A deprecated contract is announced the same way everywhere (`kernel.deprecation`):
`Deprecation` (RFC 9745), `Sunset` (RFC 8594) and `Link: <docs>; rel="deprecation"`.

* A whole operation: decorate its view with `@deprecated(DEPRECATION)` (every answer
  carries the headers) and pass its OpenAPI operation through
  `deprecated_operation(operation, DEPRECATION)` (`deprecated: true`, headers described).
* A response shape decided per answer — e.g. a webhook subscription that pins a deprecated
  payload version: call `announce(response, deprecation)` when it applies, and describe the
  possible headers in OpenAPI with `DEPRECATION_HEADERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from flask import Response, make_response

from metacrm.kernel.deprecation import Deprecation

P = ParamSpec("P")
Schema = dict[str, Any]

DEPRECATION_HEADERS: Schema = {
    "Deprecation": {
        "description": "RFC 9745: since when what this answer shows is deprecated "
                       "(`@<unix seconds>`); absent when nothing in it is.",
        "required": False, "schema": {"type": "string", "pattern": "^@-?[0-9]+$"}},
    "Sunset": {
        "description": "RFC 8594: the HTTP-date after which the deprecated contract may no "
                       "longer be served.",
        "required": False, "schema": {"type": "string"}},
    "Link": {
        "description": "`<url>; rel=\"deprecation\"`: where the migration is described.",
        "required": False, "schema": {"type": "string"}},
}


def announce(response: Response, deprecation: Deprecation) -> Response:
    """Add the deprecation headers to `response` (a `Link` it already has is kept)."""
    for name, value in deprecation.headers().items():
        if name == "Link":
            response.headers.add(name, value)
        else:
            response.headers[name] = value
    return response


def deprecated(
    deprecation: Deprecation,
) -> Callable[[Callable[P, Any]], Callable[P, Response]]:
    """A view decorator: every answer of the view announces `deprecation`."""

    def decorate(view: Callable[P, Any]) -> Callable[P, Response]:
        @wraps(view)
        def announced(*args: P.args, **kwargs: P.kwargs) -> Response:
            return announce(make_response(view(*args, **kwargs)), deprecation)

        return announced

    return decorate


def deprecated_operation(operation: Schema, deprecation: Deprecation) -> Schema:
    """An OpenAPI operation marked `deprecated: true`, its successful answers describing the
    headers and its description saying until when it is served."""
    responses = {
        status: ({**answer, "headers": {**answer.get("headers", {}), **DEPRECATION_HEADERS}}
                 if status.startswith("2") and "$ref" not in answer else answer)
        for status, answer in operation.get("responses", {}).items()
    }
    sunset = deprecation.sunset.date().isoformat()
    note = f"Deprecated: served until {sunset}; see {deprecation.link}."
    description = operation.get("description")
    return {**operation, "deprecated": True, "responses": responses,
            "description": f"{description}\n\n{note}" if description else note}
