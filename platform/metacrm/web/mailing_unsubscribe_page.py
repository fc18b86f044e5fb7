"""The unsubscribe page of a mailed message: `/m/u/<token>` (the visible link in the
message), public — the signed token is the credential. It offers both choices: stop this
list (the mailing's segment) or every marketing mail; the form posts with a CSRF token to
`/m/u/<token>/choose`. (The RFC 8058 one-click POST to `/m/u/<token>` itself is
`api.mailing_links`: mail providers send no CSRF token.)"""

from __future__ import annotations

from flask import render_template, request

from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import services

web_mailing_unsubscribe = screen_blueprint("web_mailing_unsubscribe", __name__)


@web_mailing_unsubscribe.get("/m/u/<token>")
def unsubscribe_page(token: str) -> str:
    shown = services().services.mailings.unsubscribe_page(token)  # 404 page when bad
    return render_template("metacrm/mailing_unsubscribe.html", email=shown["email"],
                           done=None)


@web_mailing_unsubscribe.post("/m/u/<token>/choose")
def unsubscribe_choice(token: str) -> str:
    mailings = services().services.mailings
    shown = mailings.unsubscribe_page(token)
    everything = request.form.get("scope") == "all"
    mailings.unsubscribe(token, everything=everything, source="unsubscribe_page")
    return render_template("metacrm/mailing_unsubscribe.html", email=shown["email"],
                           done="all" if everything else "list")
