"""Extension packs' routes in the OpenAPI document: `/api/v1/ext/<pack>/<path>`.

A pack declares what a route takes and answers (`ctx.route(..., summary=...,
request_schema=..., response_schema=...)`); each loaded pack's routes are published under
the tag `ext:<pack>`, so a client generator or Swagger UI sees them beside the core's
paths. A route without schemas is still listed, with an open body and answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from metacrm.api.openapi_paths import errors, json_answer, json_body
from metacrm.extension_host.contributions import PARAM, RouteEntry

Schema = dict[str, Any]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ANY_JSON: Schema = {}


def extension_tag(pack: str) -> Schema:
    return {"name": f"ext:{pack}", "description": f"Routes of the extension pack `{pack}`."}


def extension_paths(routes: Sequence[tuple[str, RouteEntry]]) -> dict[str, Any]:
    """The path items of every (pack, route)."""
    paths: dict[str, Any] = {}
    for pack, entry in routes:
        names = [match.group(1) for s in entry.segments if (match := PARAM.match(s))]
        shown = "/".join("{" + m.group(1) + "}" if (m := PARAM.match(s)) else s
                         for s in entry.segments)
        item = paths.setdefault(f"/api/v1/ext/{pack}/{shown}", {})
        for method in sorted(entry.methods):
            item[method.lower()] = _operation(pack, entry, method, names)
    return paths


def _operation(pack: str, entry: RouteEntry, method: str, names: list[str]) -> Schema:
    slug = re.sub(r"[^a-z0-9]+", "_", entry.path.lower()).strip("_")
    operation: Schema = {
        "operationId": f"ext_{pack}_{method.lower()}_{slug}",
        "tags": [f"ext:{pack}"],
        "summary": entry.summary or f"{method} {entry.path} (pack {pack})",
        "responses": {
            "200": json_answer("The route's answer.", dict(entry.response_schema or ANY_JSON)),
            **errors("400", "404", "422", "429", *(() if entry.public else ("401", "403"))),
        },
    }
    if names:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names]
    if method in BODY_METHODS:
        body = json_body(dict(entry.request_schema or ANY_JSON))
        body["required"] = entry.request_schema is not None
        operation["requestBody"] = body
    if entry.public:
        operation["security"] = []  # the pack checks the sender itself (a signature)
    return operation
