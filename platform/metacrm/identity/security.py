"""Metacrm's Flask-AppBuilder security manager: FAB's, with repairs and login hardening.

Login hardening (docs/operations.md, "Logins and sessions"):

* every password check (`auth_user_db`, which all login paths use) asks the login guard
  first and reports its outcome (identity.login_guard): repeated failures make the next
  attempt wait, answered 429 with Retry-After;
* a browser session is valid only while its `metacrm_sessions` row exists (`load_user`,
  the user load Flask-Login makes on each request anyway), so logout, password change,
  deactivation and role removal end it in every process at once (identity.revocation);
* JWTs carry the user's credential epoch and are refused once it has moved on;
* FAB's own login form (`/login/`) sends the browser to the screens' `/app/login`, so one
  login page (with one set of limits and sessions) serves the whole app.

Repairs:

* FAB's own JSON login (`POST /api/v1/security/login`) has no brute-force limit (FAB limits
  its HTML login form only, through AUTH_RATE_LIMITED). Ours takes AUTH_RATE_LIMIT per
  client address on top of the application-wide limit.
* FAB_ADD_SECURITY_API adds REST APIs for users, roles and permissions; FAB 5.3's
  permission-on-resource API cannot build its input schema under marshmallow 4 (its
  foreign-key columns are not schema fields any more: Flask-AppBuilder issue #2361, open).
  `PermissionViewMenuApi` below declares that schema with the foreign keys included.
* Flask-JWT-Extended answers a malformed JWT with 422; an unusable credential is a 401
  everywhere in metacrm, so FAB's own protected APIs answer 401 too.
* A user name holding a NUL character made FAB's login query fail on PostgreSQL (a 500);
  no user has such a name, so the login simply fails.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import flask_login
import sqlalchemy as sa
from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
)
from flask_appbuilder import expose
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.apis import PermissionViewMenuApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import PermissionView
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.limit import Limit
from flask_jwt_extended import JWTManager
from flask_limiter.util import get_remote_address
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response as BaseResponse

from metacrm.identity.login_guard import LoginGuard, LoginThrottled
from metacrm.identity.revocation import SESSION_KEY, EpochCache
from metacrm.identity.session_store import (
    credential_epoch,
    end_session,
    live_session,
    start_session,
)

LOGIN_WAIT = "metacrm_login_wait"
"""`flask.g` key: the seconds a throttled login must wait (the exact Retry-After)."""

EPOCH_CLAIM = "mcrm_epoch"
"""The JWT claim holding the credential epoch the token was issued in."""

log = logging.getLogger(__name__)


def _login_limit() -> str:
    return str(current_app.config["AUTH_RATE_LIMIT"])


class MetacrmSecurityApi(SecurityApi):  # type: ignore[misc]  # FAB has no type hints
    """FAB's security API (JWT login and refresh) with a per-address request limit, whose
    login lets a throttled attempt through as a 429 (FAB's `@safe` would make it a 500)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.limits = [Limit(_login_limit, key_func=get_remote_address, methods=("POST",))]
        super().__init__(*args, **kwargs)

    @expose("/login", methods=["POST"])  # type: ignore[untyped-decorator]  # FAB: no hints
    def login(self) -> Response:
        try:
            response: Response = SecurityApi.login.__wrapped__(self)
        except LoginThrottled:
            raise
        except BadRequest as exc:
            return self.response_400(message=str(exc))  # type: ignore[no-any-return]
        except Exception:
            log.exception("the JWT login failed")
            return self.response_500()  # type: ignore[no-any-return]
        return response


class RedirectingAuthDBView(AuthDBView):  # type: ignore[misc]  # FAB has no type hints
    """FAB's `/login/` sends the browser to the screens' login page (keeping `next`);
    its `/logout/` ends the server-side session (through `on_user_logout`)."""

    @expose("/login/", methods=["GET", "POST"])  # type: ignore[untyped-decorator]
    def login(self) -> BaseResponse:
        target = request.args.get("next")
        query = f"?{urlencode({'next': target})}" if target else ""
        return redirect(f"/app/login{query}")


class FixedPermissionViewMenuApi(PermissionViewMenuApi):  # type: ignore[misc]  # untyped
    """FAB's permission-on-resource API with an add/edit schema marshmallow 4 accepts."""

    def _init_model_schemas(self) -> None:
        for attribute in ("add_model_schema", "edit_model_schema"):
            if getattr(self, attribute, None) is None:
                setattr(self, attribute, _permission_view_schema()())
        super()._init_model_schemas()


def _permission_view_schema() -> type[SQLAlchemyAutoSchema[Any]]:
    """Built per app: the schema binds the app's FAB session, as FAB's own schemas do."""

    class PermissionViewSchema(SQLAlchemyAutoSchema[Any]):
        class Meta:
            model = PermissionView
            fields = ("permission_id", "view_menu_id")
            include_fk = True
            load_instance = True
            sqla_session = current_app.extensions["appbuilder"].session

    return PermissionViewSchema


class MetacrmSecurityManager(SecurityManager):  # type: ignore[misc]  # FAB has no type hints
    """FAB's SQLAlchemy security manager with the repairs described above."""

    security_api = MetacrmSecurityApi
    permission_view_menu_api = FixedPermissionViewMenuApi
    authdbview = RedirectingAuthDBView

    login_guard: LoginGuard
    """Set by `identity.bridge.install_identity` (with `metacrm_engine`)."""
    metacrm_engine: sa.Engine
    epochs: EpochCache

    def auth_user_db(self, username: Any, password: Any) -> Any:
        """FAB's password check behind the login guard: LoginThrottled (429) while the
        account must wait from this address; failures and successes are counted."""
        if not isinstance(username, str) or not username or "\x00" in username:
            return None
        address = (request.remote_addr if has_request_context() else None) or ""
        try:
            self.login_guard.check(username, address)
        except LoginThrottled as throttled:
            if has_request_context():
                setattr(g, LOGIN_WAIT, throttled.retry_after)
            raise
        user = super().auth_user_db(username, password)
        if user is None:
            self.login_guard.failed(username, address)
        else:
            self.login_guard.succeeded(username, address)
        return user

    def load_user(self, pk: Any) -> Any:
        """The session's user, only while its server-side session lives (one indexed
        lookup before FAB's user load); None makes the request anonymous."""
        session_id = session.get(SESSION_KEY)
        try:
            user_id = int(pk)
        except (TypeError, ValueError):
            return None
        if not isinstance(session_id, str):
            return None
        with self.metacrm_engine.begin() as connection:
            live = live_session(connection, session_id, user_id, datetime.now(UTC))
        if live is None:
            return None
        return super().load_user(user_id)

    def load_user_jwt(self, _jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> Any:
        """FAB's JWT user load, which must not ask for a browser session."""
        user = super().load_user(jwt_data["sub"])
        if user is not None:
            g.user = user  # as FAB does: its views read g.user
        return user

    def on_user_logout(self, user: Any) -> None:
        end_current_session(self.metacrm_engine)

    def current_epoch(self, user_id: int) -> int:
        """The user's credential epoch, remembered a few seconds (identity.revocation)."""
        def load() -> int:
            with self.metacrm_engine.connect() as connection:
                return credential_epoch(connection, user_id)
        return self.epochs.get_or_load(user_id, load) or 0

    def create_jwt_manager(self, app: Flask) -> JWTManager:
        manager: JWTManager = super().create_jwt_manager(app)
        manager.invalid_token_loader(_invalid_jwt)
        manager.additional_claims_loader(self._epoch_claim)
        manager.token_in_blocklist_loader(self._revoked_jwt)
        manager.revoked_token_loader(_revoked_jwt_answer)
        return manager

    def _epoch_claim(self, identity: Any) -> dict[str, int]:
        try:
            user_id = int(str(identity))
        except ValueError:
            return {}
        with self.metacrm_engine.connect() as connection:
            return {EPOCH_CLAIM: credential_epoch(connection, user_id)}

    def _revoked_jwt(self, _header: dict[str, Any], claims: dict[str, Any]) -> bool:
        return not self.jwt_is_current(claims)

    def jwt_is_current(self, claims: dict[str, Any]) -> bool:
        """Whether a token's claims carry its user's current credential epoch."""
        try:
            user_id = int(str(claims.get("sub")))
        except ValueError:
            return False
        epoch = claims.get(EPOCH_CLAIM, 0)
        return isinstance(epoch, int) and epoch == self.current_epoch(user_id)


def start_browser_session(engine: sa.Engine, user: Any) -> None:
    """Log `user` in with a new server-side session. Nothing of the session cookie from
    before the login carries over (no fixation of a planted session)."""
    with engine.begin() as connection:
        session_id = start_session(connection, int(user.id), datetime.now(UTC))
    session.clear()
    session[SESSION_KEY] = session_id
    flask_login.login_user(user, remember=False)


def end_current_session(engine: sa.Engine) -> None:
    """End the request's server-side session, if any (logout)."""
    session_id = session.pop(SESSION_KEY, None)
    if isinstance(session_id, str):
        with engine.begin() as connection:
            end_session(connection, session_id)


def _revoked_jwt_answer(_header: dict[str, Any], _claims: dict[str, Any]
                        ) -> tuple[Response, int]:
    return jsonify({"msg": "the token was issued before the user's password changed or "
                           "the user was deactivated; log in again"}), 401


def _invalid_jwt(reason: str) -> tuple[Response, int]:
    return jsonify({"msg": f"the access token is not valid: {reason}"}), 401
