"""The dashboards screens: `/app/dashboards` (the dashboards the user sees) and
`/app/dashboards/<name>` (one dashboard run as the user), also drawn on the start page.

The filters (`period`, `owner`, `team`) are query parameters, so every state is a link; a
bad one is reported on the page and the dashboard runs without it. Charts are drawn by
`ui/static/dashboards.js` with the vendored Chart.js (no inline script: the page's CSP);
a click on a point opens its drill-down link, which the figures under each chart also
carry, for keyboards and pages without scripts.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.model import DashboardDef
from metacrm.reports.dashboards import DashboardService
from metacrm.reports.parameters import NAMED_PERIODS
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.dashboard_widgets import WidgetPresenter
from metacrm.web.i18n import label, t
from metacrm.web.reports_page import PERIOD_LABELS

web_dashboards = screen_blueprint("web_dashboards", __name__, url_prefix="/app/dashboards")

FILTER_NAMES = ("period", "owner", "team")


def _service() -> DashboardService:
    return services().services.dashboards


@web_dashboards.get("")
@login_required
def index() -> str:
    dashboards = _service().definitions(web_subject())
    return render_template("metacrm/dashboards.html", dashboards=[
        {"name": d.name, "label": label(d.label, d.name),
         "description": label(d.description, "")} for d in dashboards])


@web_dashboards.get("/<name>")
@login_required
def page(name: str) -> str:
    subject = web_subject()
    dashboard = _service().definition(subject, name)
    return render_template("metacrm/dashboard.html", **dashboard_context(subject, dashboard))


def _filters(dashboard: DashboardDef) -> dict[str, str | None]:
    """The filters the query string gives, among those offered; an empty value stands for
    "any" (all time, every owner), overriding the dashboard's and the reports' defaults."""
    return {key: request.args[key] or None for key in FILTER_NAMES
            if key in dashboard.filters and key in request.args}


def _teams(subject: AccessSubject) -> list[str]:
    """The teams offered as a filter: the user's own (with their sub-teams); every team
    for administrators."""
    runtime = services().records.runtime()
    if not runtime.policy.is_admin(subject):
        return sorted(subject.team_ids)
    records = services().records
    with records.engine.connect() as conn:
        return sorted(team.name for team in records.teams.list_teams(conn))


def dashboard_context(subject: AccessSubject, dashboard: DashboardDef) -> dict[str, Any]:
    """What `metacrm/dashboard_grid.html` needs to draw `dashboard` for `subject`."""
    service = _service()
    filters = _filters(dashboard)
    problem = ""
    try:
        run = service.run(subject, dashboard, filters)
    except ValidationFailed as exc:
        problem = t("Some filters were not applied: %(detail)s", detail="; ".join(
            f"{e.pointer.lstrip('/')} {e.message}" for e in exc.errors))
        filters = {}
        run = service.run(subject, dashboard, {})
    presenter = WidgetPresenter(service, service.model(), subject)
    period = run.filters.get("period") or ""
    return {
        "dashboard": dashboard, "title": label(dashboard.label, dashboard.name),
        "description": label(dashboard.description, ""), "problem": problem,
        "widgets": [presenter.view(w, i) for i, w in enumerate(run.widgets)],
        "offered": dashboard.filters, "period": period if period in NAMED_PERIODS else "",
        "owner": run.filters.get("owner") or "", "team": filters.get("team") or "",
        "periods": [(key, t(text)) for key, text in PERIOD_LABELS.items()],
        "teams": _teams(subject) if "team" in dashboard.filters else [],
    }
