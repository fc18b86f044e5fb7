"""`screen_blueprint(...)`: a Blueprint for screens, with the hooks every screen needs.

Each screen module makes its blueprint here, at import time, so the language hook, the CSRF
check and the HTML error pages are attached once (a blueprint may serve several apps, as it
does in tests) and `register_web` finds every screen in `SCREEN_BLUEPRINTS`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, render_template, request, session
from flask_wtf.csrf import CSRFError

from metacrm.kernel.errors import MetacrmError
from metacrm.services.users.preferences import UserPreferences, saved_preferences
from metacrm.web.context import check_csrf, services, web_actor
from metacrm.web.i18n import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    current_language,
    t,
    use_formats,
    use_language,
)

SCREEN_BLUEPRINTS: list[Blueprint] = []

SESSION_PREFERENCES = "metacrm_user_preferences"
"""`{"user": user id, **UserPreferences}`, kept in the session after the first page and
replaced when the user changes them (other sessions of the user read them at their next
sign-in)."""


def screen_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A screen blueprint (URL prefix and other `Blueprint` options as given)."""
    blueprint = Blueprint(name, import_name, **options)
    blueprint.before_request(prepare_request)
    blueprint.register_error_handler(MetacrmError, error_page)
    blueprint.register_error_handler(CSRFError, csrf_page)
    SCREEN_BLUEPRINTS.append(blueprint)
    return blueprint


def prepare_request() -> None:
    """Pick the request's language and formats, and check the CSRF token of a
    state-changing request."""
    preferences = UserPreferences()
    actor = web_actor()
    if actor is not None:
        preferences = session_preferences(actor.user_id)
    use_language(preferences.language or request.cookies.get(LANGUAGE_COOKIE)
                 or request.accept_languages.best_match(list(LANGUAGES)) or "en")
    use_formats(preferences.time_zone, preferences.date_format, preferences.number_format)
    if session.get("locale") != current_language():
        session["locale"] = current_language()  # Flask-AppBuilder's pages follow
    check_csrf()


def session_preferences(user_id: str) -> UserPreferences:
    """The user's saved preferences, read once per session: the page hook must not cost a
    query per page."""
    remembered = session.get(SESSION_PREFERENCES)
    if isinstance(remembered, dict) and remembered.get("user") == user_id:
        try:
            return UserPreferences(**{k: v for k, v in remembered.items() if k != "user"})
        except TypeError:
            pass  # written by another release: read again
    preferences = saved_preferences(services().engine, user_id)
    remember_preferences(user_id, preferences)
    return preferences


def remember_preferences(user_id: str, preferences: UserPreferences) -> None:
    session[SESSION_PREFERENCES] = {"user": user_id, **asdict(preferences)}


def error_page(error: MetacrmError) -> tuple[str, int]:
    return render_template("metacrm/error.html", status=error.status, message=error.message,
                           details=error.errors), error.status


def csrf_page(_error: CSRFError) -> tuple[str, int]:
    message = t("The form expired or did not come from this site. Reload the page and try "
                "again.")
    return render_template("metacrm/error.html", status=400, message=message,
                           details=[]), 400
