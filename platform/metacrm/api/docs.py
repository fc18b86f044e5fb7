"""`GET /api/v1/openapi.json` (generated from the live metadata) and the Swagger UI page.

The document needs a logged-in caller (it describes the CRM's data model); the page itself
is static and loads the document with the browser's session. Swagger UI's files are vendored
in ui/vendor/swagger-ui (see its NOTICE) and served from here, and the page's Content
Security Policy lets it load nothing from anywhere else.
"""

from __future__ import annotations

import html
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request, send_from_directory, url_for

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.openapi import cached_openapi
from metacrm.identity.current import require_actor
from metacrm.resources import folder

UI_ROOT = folder("ui")
VENDOR = UI_ROOT / "vendor" / "swagger-ui"
PAGE = UI_ROOT / "swagger"
ASSETS: dict[str, Path] = {
    "swagger-ui.css": VENDOR,
    "swagger-ui-bundle.js": VENDOR,
    "swagger-init.js": PAGE,
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

docs_api = Blueprint("metacrm_docs", __name__, url_prefix=API_PREFIX)


@docs_api.get("/openapi.json")
def openapi_document() -> Response:
    require_actor()
    runtime = web_runtime()
    live = runtime.metadata.live()
    packs = runtime.services.packs
    routes_key = packs.routes_key()
    _, text = cached_openapi(live.model, runtime.registry, version_number=live.number,
                             extension_routes=packs.routes(), routes_key=routes_key)
    etag = f'W/"openapi-{live.number}-{live.model.checksum[:16]}-{routes_key[:12]}"'
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers={"ETag": etag})
    return current_app.response_class(
        text, mimetype="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})


@docs_api.get("/docs")
def swagger_page() -> Response:
    page = (PAGE / "index.html").read_text(encoding="utf-8")
    assets = url_for("metacrm_docs.swagger_asset", name="x")[: -len("/x")]
    page = page.replace("__ASSETS__", html.escape(assets)).replace(
        "__SPEC__", html.escape(url_for("metacrm_docs.openapi_document")))
    return Response(page, mimetype="text/html",
                    headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})


@docs_api.get("/docs/assets/<name>")
def swagger_asset(name: str) -> Response:
    folder = ASSETS.get(name)
    if folder is None:
        abort(404)
    return send_from_directory(folder, name, max_age=3600)
