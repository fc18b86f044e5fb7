"""Routes: a pack's HTTP endpoints under `/api/v1/ext/<pack>/<path>`, framework-neutral.

A handler takes an `ExtRequest` and returns an `ExtResponse` (or a JSON-able value, sent as
200 JSON). A route is authenticated like every API call (session, JWT or personal token)
unless registered with `public=True` (webhooks from other services: check their secret
yourself). Raising `HttpError`, `Refused`, `NotFound`... answers a problem document; any
other exception answers 500 without details and is logged with the pack's name.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from metacrm.extension.records import Caller


@dataclass(frozen=True)
class ExtRequest:
    """One HTTP request to a pack route."""

    method: str
    path_params: Mapping[str, str]
    """Values of `<name>` segments of the route's path."""
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes
    caller: Caller | None
    """The authenticated user; None on a public route."""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body parsed as JSON; HttpError 400 when it is not JSON."""
        from metacrm.extension.errors import HttpError

        try:
            return _json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"the request body is not JSON: {exc}") from None


@dataclass(frozen=True)
class ExtResponse:
    """What a route answers: `json` (serialised) or raw `body` bytes."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


RouteHandler = Callable[[ExtRequest], "ExtResponse | Any"]

__all__ = ["ExtRequest", "ExtResponse", "RouteHandler"]
