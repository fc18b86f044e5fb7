"""The generated screens (`/app/…`): server-rendered pages over the same services as the API.

Views are thin: they read the request, call a service with the signed-in user's access
subject and render a template from `ui/templates/metacrm/`. Access is never decided here —
the records service applies the subject's scope and field security, so a hidden field
cannot reach a template and a forbidden action is refused even when a form is forged.
Scripts (`ui/static/`) only enhance the pages (kanban drag, inline edit, filter builder);
every action also works as a plain form.

`register_web(app)` is called by the app factory after the API.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response
from flask_wtf.csrf import generate_csrf
from jinja2 import ChoiceLoader, FileSystemLoader

from metacrm.resources import folder
from metacrm.web.blueprints import SCREEN_BLUEPRINTS
from metacrm.web.context import CSRF_FIELD, is_admin, services, web_actor
from metacrm.web.fab_theme import redirect_stock_admin_pages
from metacrm.web.i18n import (
    LANGUAGES,
    current_language,
    current_time_zone,
    format_date,
    format_datetime,
    format_money,
    format_number,
    label,
    t,
    tn,
)
from metacrm.web.navigation import navigation

UI_ROOT = folder("ui")

web_assets = Blueprint("web_assets", __name__, static_folder=str(UI_ROOT / "static"),
                       static_url_path="/app/static")


def register_web(app: Flask) -> None:
    """Register the screens, their templates and template helpers on `app`."""
    from metacrm.web import screens  # noqa: F401  (importing makes the screen blueprints)

    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(UI_ROOT / "templates")),
                                     *([app.jinja_loader] if app.jinja_loader else [])])
    app.register_blueprint(web_assets)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    app.before_request(redirect_stock_admin_pages)
    for blueprint in SCREEN_BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.context_processor(_template_helpers)


def _favicon() -> Response:
    """Browsers ask for `/favicon.ico` whatever the page says: answer with the SVG icon
    (every current browser reads an SVG favicon) instead of a 404 in every log."""
    icon = (UI_ROOT / "static" / "favicon.svg").read_bytes()  # 300 bytes
    return Response(icon, mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


def _template_helpers() -> dict[str, Any]:
    from metacrm.web.bookmarks import nav_bookmarks  # screen modules: imported late
    from metacrm.web.notifications import unread_badge

    actor = web_actor()
    subject = services().teams.subject(actor) if actor is not None else None
    return {
        "t": t, "tn": tn, "label": label, "language": current_language(),
        "languages": LANGUAGES, "csrf_token": generate_csrf, "csrf_field": CSRF_FIELD,
        "format_date": format_date, "format_datetime": format_datetime,
        "format_number": format_number, "format_money": format_money,
        "time_zone": current_time_zone,
        "actor": actor,
        "nav_packs": navigation(subject) if subject is not None else [],
        "user_is_admin": subject is not None and is_admin(subject),
        "notification_badge": unread_badge,
        "nav_bookmarks": nav_bookmarks,
    }


__all__ = ["UI_ROOT", "register_web"]
