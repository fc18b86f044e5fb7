"""Sign in, sign out and pick a language: the screens' own login page.

Passwords are checked by Flask-AppBuilder's security manager (the same users, hashes and
login limits as the JSON login: identity.login_guard); a successful login starts a
server-side session (identity.session_store) held by a Flask-Login cookie, which the API
accepts too, so the screens' scripts can call `/api/v1` with the same cookie. Signing out
ends the session on the server, so a copied cookie stops working as well.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import flask_login
from flask import (
    Response,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from metacrm.identity.bridge import identity_state
from metacrm.identity.login_guard import LoginThrottled
from metacrm.identity.security import end_current_session, start_browser_session
from metacrm.services.users.preferences import save_language
from metacrm.web.blueprints import remember_preferences, screen_blueprint, session_preferences
from metacrm.web.context import services, web_actor
from metacrm.web.i18n import LANGUAGE_COOKIE, LANGUAGES, t, use_language
from metacrm.web.security_headers import served_over_https

web_auth = screen_blueprint("web_auth", __name__, url_prefix="/app")

ONE_YEAR = 365 * 24 * 3600


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login would hand phishers a link."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("web_home.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return url_for("web_home.home")
    return target


@web_auth.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if web_actor() is not None:
            return redirect(next_url)
        return render_template("metacrm/login.html", next_url=next_url, error=None)
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    state = identity_state()
    try:
        user = state.appbuilder.sm.auth_user_db(username, password) if username else None
    except LoginThrottled as throttled:
        state.end_session_transaction()
        error = t("Too many failed sign-ins. Try again in %(seconds)s seconds.",
                  seconds=throttled.retry_after)
        page = render_template("metacrm/login.html", next_url=next_url, error=error,
                               username=username)
        return page, 429, {"Retry-After": str(throttled.retry_after)}
    state.end_session_transaction()
    if user is None:
        error = t("Wrong username or password, or the account is disabled.")
        return render_template("metacrm/login.html", next_url=next_url, error=error,
                               username=username), 401
    start_browser_session(state.engine, user)
    state.end_session_transaction()
    return redirect(next_url)


@web_auth.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    """Sign out: the server forgets the session, so the cookie is worthless everywhere."""
    end_current_session(identity_state().engine)
    flask_login.logout_user()
    return redirect(url_for("web_auth.login"))


@web_auth.route("/language", methods=["POST"])
def choose_language() -> Response:
    """Remember the language: for the signed-in user in the database, else in a cookie."""
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        language = "en"
    actor = web_actor()
    if actor is not None:
        save_language(services().engine, actor.user_id, language)
        remember_preferences(actor.user_id,
                             replace(session_preferences(actor.user_id), language=language))
    use_language(language)
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=ONE_YEAR, samesite="Lax",
                        httponly=True, secure=served_over_https())
    return response
