"""What a screen needs of the request: the signed-in user, their access subject, CSRF.

Screens authenticate with the session cookie Flask-Login keeps (set by `web.auth`); a
request without one is sent to the login page. Every state-changing request (POST) must
carry the session's CSRF token, as a form field `csrf_token` or an `X-CSRFToken` header
(scripts); Flask-WTF makes and checks the tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from metacrm.access.subject import AccessSubject
from metacrm.api import WebRuntime, web_runtime
from metacrm.identity.actor import Actor
from metacrm.identity.current import authentication
from metacrm.kernel.errors import Forbidden

View = TypeVar("View", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"


def services() -> WebRuntime:
    """The services the app factory built (records, metadata, teams, engine…)."""
    return web_runtime()


def web_actor() -> Actor | None:
    """The signed-in user of this page request (session cookie), or None."""
    result = authentication()
    return result.actor if result.method == "session" else None


def web_subject() -> AccessSubject:
    """The access subject of the signed-in user (call only inside `login_required` views)."""
    actor = web_actor()
    if actor is None:
        raise Forbidden("sign in first")
    return services().teams.subject(actor)


def is_admin(subject: AccessSubject) -> bool:
    """Whether the live metadata gives the subject an admin role (designer, user admin)."""
    return services().records.runtime().policy.is_admin(subject)


def login_required(view: View) -> View:
    """Send anonymous visitors to the login page, then back here."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if web_actor() is None:
            return redirect(url_for("web_auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(View, guarded)


def admin_required(view: View) -> View:
    """Login required, and an admin role (403 page otherwise)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not is_admin(web_subject()):
            raise Forbidden("this page is for administrators")
        return view(*args, **kwargs)

    return cast(View, login_required(guarded))


def check_csrf() -> None:
    """Refuse a POST/PUT/PATCH/DELETE without the session's CSRF token (400 page)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    token = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None
