"""The start page: the user's default dashboard (the first they see offered as start page,
`metacrm.reports.dashboards`), then the entities the user may read, grouped by pack, with
their counts — all the records the user may read and those they own — each linking to its
list."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from metacrm.access.subject import AccessSubject
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.dashboards_page import dashboard_context
from metacrm.web.navigation import navigation

web_home = screen_blueprint("web_home", __name__)

MINE = {"field": "owner", "op": "eq", "value": "$user"}


@dataclass(frozen=True)
class EntityCounts:
    """How many records the user may read (`estimate`: more than the exact limit)."""

    total: int
    mine: int
    estimate: bool


@web_home.route("/app/")
@login_required
def home() -> str:
    subject = web_subject()
    packs = navigation(subject)
    counts = {entity.name: _counts(subject, entity.name)
              for pack in packs for entity in pack.entities}
    context = {"packs": packs, "counts": counts, "mine_filter": "filter[owner][eq]=$user"}
    dashboard = services().services.dashboards.start_page(subject)
    if dashboard is not None:
        return render_template("metacrm/dashboard.html", home=True, **context,
                               **dashboard_context(subject, dashboard))
    return render_template("metacrm/home.html", **context)


def _counts(subject: AccessSubject, entity: str) -> EntityCounts:
    """Two bounded counts through the records service (the read scope applies)."""
    records = services().records
    everything = records.list(subject, entity, limit=1, fields=["id"])
    mine = records.list(subject, entity, limit=1, fields=["id"], criteria=MINE)
    return EntityCounts(everything.count, mine.count, everything.count_is_estimate)
