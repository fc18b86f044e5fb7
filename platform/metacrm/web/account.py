"""The personal API tokens page, `/app/account/tokens`: list, create (secret shown once), revoke.

The same token store as `POST/GET/DELETE /api/v1/tokens` (`identity.token_store`). Screens
authenticate by password session only (`web_actor`), so a token can never mint tokens here.

Creating is POST → redirect → GET, so reloading the page never creates a second token. The
secret rides from the POST to the GET in the session (`ISSUED_KEY`) and the GET takes it out
again: it is shown exactly once, with `Cache-Control: no-store`, and then exists nowhere but
the page. The session cookie is signed, not encrypted, so the secret sits in the user's own
HttpOnly cookie for the one redirect — a cookie that is a password login, which can mint
tokens anyway, so this exposes nothing new. Never in a URL, never stored server-side.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time

from flask import flash, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.identity.bridge import identity_state
from metacrm.identity.token_store import (
    NAME_MAX_LENGTH,
    IssuedToken,
    find_token,
    issue_token,
    list_tokens,
    revoke_token,
)
from metacrm.kernel.errors import NotFound
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, web_actor
from metacrm.web.i18n import t

web_account = screen_blueprint("web_account", __name__, url_prefix="/app/account")

TEMPLATE = "metacrm/tokens.html"
ISSUED_KEY = "metacrm_issued_token"
"""Session key of the token just created: `[token id, secret]`, taken by the next GET."""
TOKEN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _user_id() -> int:
    actor = web_actor()
    assert actor is not None  # login_required ran first
    return int(actor.user_id)


def _page(*, issued: IssuedToken | None = None, errors: dict[str, str] | None = None,
          name: str = "", expires: str = "", status: int = 200) -> tuple[str, int]:
    with identity_state().engine.connect() as connection:
        tokens = list_tokens(connection, _user_id())
    return render_template(TEMPLATE, tokens=tokens, issued=issued, errors=errors or {},
                           name=name, expires=expires, name_max=NAME_MAX_LENGTH,
                           today=date.today().isoformat()), status


@web_account.get("/tokens")
@login_required
def tokens() -> BaseResponse:
    """The list, and once after creating, the new token's secret."""
    issued = _take_issued()
    response = make_response(_page(issued=issued))
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def _take_issued() -> IssuedToken | None:
    """The token the previous POST created (this user's, still listed), out of the session."""
    kept = session.pop(ISSUED_KEY, None)
    if not isinstance(kept, list | tuple) or len(kept) != 2:
        return None
    token_id, secret = kept
    with identity_state().engine.connect() as connection:
        listed = {token.id: token for token in list_tokens(connection, _user_id())}
    info = listed.get(token_id)
    return IssuedToken(info, str(secret)) if info is not None else None


@web_account.post("/tokens")
@login_required
def create() -> BaseResponse | tuple[str, int]:
    name = (request.form.get("name") or "").strip()
    expires = (request.form.get("expires") or "").strip()
    now = datetime.now(UTC)
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = t("Give the token a name, such as the program that will use it.")
    elif len(name) > NAME_MAX_LENGTH or any(unicodedata.category(c) == "Cc" for c in name):
        errors["name"] = t("At most %(count)s characters, without control characters.",
                           count=NAME_MAX_LENGTH)
    expires_at = None
    if expires:
        try:
            expires_at = datetime.combine(date.fromisoformat(expires), time.min, tzinfo=UTC)
        except ValueError:
            errors["expires"] = t("Enter a date such as 2030-12-31.")
        else:
            if expires_at <= now:
                errors["expires"] = t("The expiry must be a date in the future.")
    if errors:
        return _page(errors=errors, name=name, expires=expires, status=422)
    with identity_state().engine.begin() as connection:
        issued = issue_token(connection, user_id=_user_id(), name=name,
                             expires_at=expires_at, now=now)
    session[ISSUED_KEY] = [issued.info.id, issued.secret]
    return redirect(url_for("web_account.tokens"), code=303)


@web_account.post("/tokens/<token_id>/revoke")
@login_required
def revoke(token_id: str) -> BaseResponse:
    """Revoke one of the user's own tokens (anyone else's is answered as missing)."""
    with identity_state().engine.begin() as connection:
        token = find_token(connection, token_id) if TOKEN_ID.match(token_id) else None
        if token is None or token.user_id != _user_id():
            raise NotFound(t("You have no such token."))
        revoke_token(connection, token.id)
    flash(t("Token “%(name)s” revoked: programs using it are refused from now on.",
            name=token.name), "success")
    return redirect(url_for("web_account.tokens"))
