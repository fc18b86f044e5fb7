"""The public routes of mailed messages (no sign-in: the signed token is the credential):

* `POST /m/u/<token>` — RFC 8058 one-click unsubscribe from the mailing's list (what a
  mail provider posts, body `List-Unsubscribe=One-Click`; no CSRF token can come with it,
  which is why this is not a screen). The page at `GET /m/u/<token>` is a screen
  (`web.mailing_unsubscribe_page`).
* `GET /m/o/<token>` — the open pixel: always a 1×1 GIF, whatever the token.
* `GET /m/c/<token>` — a tracked click: 302 to the mailing's own recorded link, 404 for
  anything else (no open redirect).
"""

from __future__ import annotations

import base64

from flask import Blueprint, Response

from metacrm.api import web_runtime

mailing_links_api = Blueprint("metacrm_mailing_links", __name__)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private"}


@mailing_links_api.post("/m/u/<token>")
def one_click_unsubscribe(token: str) -> Response:
    web_runtime().services.mailings.unsubscribe(token, source="one_click")
    return Response("unsubscribed\n", 200, {"Content-Type": "text/plain", **NO_STORE})


@mailing_links_api.get("/m/o/<token>")
def open_pixel(token: str) -> Response:
    web_runtime().services.mailings.opened(token)
    return Response(PIXEL, 200, {"Content-Type": "image/gif", **NO_STORE})


@mailing_links_api.get("/m/c/<token>")
def tracked_click(token: str) -> Response:
    url = web_runtime().services.mailings.clicked(token)
    return Response("", 302, {"Location": url, **NO_STORE})
