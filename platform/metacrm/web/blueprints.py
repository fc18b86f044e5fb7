"""`screen_blueprint(...)`: a Blueprint for screens, with the hooks every screen needs.

Each screen module makes its blueprint here, at import time, so the language hook, the CSRF
check and the HTML error pages are attached once (a blueprint may serve several apps, as it
does in tests) and `register_web` finds every screen in `SCREEN_BLUEPRINTS`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, session
from flask_wtf.csrf import CSRFError

from metacrm.kernel.errors import MetacrmError
from metacrm.services.preferences import saved_language
from metacrm.web.context import check_csrf, services, web_actor
from metacrm.web.i18n import LANGUAGE_COOKIE, LANGUAGES, current_language, t, use_language

SCREEN_BLUEPRINTS: list[Blueprint] = []

SESSION_LANGUAGE = "metacrm_user_language"
"""(user id, saved language or None), kept in the session after the first page."""


def screen_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A screen blueprint (URL prefix and other `Blueprint` options as given)."""
    blueprint = Blueprint(name, import_name, **options)
    blueprint.before_request(prepare_request)
    blueprint.register_error_handler(MetacrmError, error_page)
    blueprint.register_error_handler(CSRFError, csrf_page)
    SCREEN_BLUEPRINTS.append(blueprint)
    return blueprint


def prepare_request() -> None:
    """Pick the request's language and check the CSRF token of a state-changing request."""
    language = None
    actor = web_actor()
    if actor is not None:
        remembered = session.get(SESSION_LANGUAGE)
        if remembered is not None and remembered[0] == actor.user_id:
            language = remembered[1]
        else:  # read once per session: the page hook must not cost a query per page
            language = saved_language(services().engine, actor.user_id)
            session[SESSION_LANGUAGE] = (actor.user_id, language)
    use_language(language or request.cookies.get(LANGUAGE_COOKIE)
                 or request.accept_languages.best_match(list(LANGUAGES)) or "en")
    if session.get("locale") != current_language():
        session["locale"] = current_language()  # Flask-AppBuilder's pages follow
    check_csrf()


def error_page(error: MetacrmError) -> tuple[str, int]:
    return render_template("metacrm/error.html", status=error.status, message=error.message,
                           details=error.errors), error.status


def csrf_page(_error: CSRFError) -> tuple[str, int]:
    message = t("The form expired or did not come from this site. Reload the page and try "
                "again.")
    return render_template("metacrm/error.html", status=400, message=message,
                           details=[]), 400
