"""The start page: the entities the user may read, grouped by pack, with their counts."""

from __future__ import annotations

from flask import render_template

from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, web_subject
from metacrm.web.navigation import navigation

web_home = screen_blueprint("web_home", __name__)


@web_home.route("/app/")
@login_required
def home() -> str:
    return render_template("metacrm/home.html", packs=navigation(web_subject()))
