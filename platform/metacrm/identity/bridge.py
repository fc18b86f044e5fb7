"""Set up Flask-AppBuilder on a metacrm app and keep its roles in step with the metadata.

`install_identity` is called once by the app factory. It configures FAB (database login,
JWT login API, security API, rate limits), creates FAB's `ab_*` tables and the API token
table when missing, and syncs roles. Afterwards `IdentityState.admin_roles()`, asked on
every authenticated request, notices a new metadata version (the model cache's one cheap
`max(number)` query) and syncs roles again in that process — each process does so once per
version, idempotently — so a role added through the metadata API can be assigned at once
and a demoted admin role loses FAB's admin pages, without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g
from flask_appbuilder import AppBuilder
from flask_appbuilder.const import AUTH_DB

from metacrm.identity.database import SharedEngineSQLA
from metacrm.identity.fab_input import refuse_overlong_values
from metacrm.identity.login_guard import LoginGuard, create_login_failure_table
from metacrm.identity.revocation import EpochCache
from metacrm.identity.roles import fab_admin_role, sync_roles
from metacrm.identity.security import LOGIN_WAIT, MetacrmSecurityManager
from metacrm.identity.session_store import create_session_tables
from metacrm.identity.token_store import create_token_table
from metacrm.identity.ttl_cache import TtlCache
from metacrm.identity.user_cache import UserCache
from metacrm.services.metadata.service import MetadataService

EXTENSION_KEY = "metacrm.identity"
PUBLIC_ROLE = "Public"


@dataclass
class IdentityState:
    """Per-app identity plumbing: the engine, the metadata service and FAB."""

    engine: sa.Engine
    metadata: MetadataService
    appbuilder: Any
    db: SharedEngineSQLA
    synced_version: int = -1
    users: UserCache = field(default_factory=UserCache)
    """Loaded user identities, reused for a few seconds (see identity.user_cache)."""
    jwt_claims: TtlCache[str, dict[str, Any]] = field(default_factory=TtlCache)
    """Claims of access tokens this app verified, by the exact encoded token, reused for
    a few seconds (never past the token's `exp`): checking an HS256 signature and the
    claims again on every request of a client costs more than the record read."""
    login_guard: LoginGuard | None = None
    """Counts failed logins and throttles the next attempts (identity.login_guard)."""
    _admins: frozenset[str] = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admin_roles(self) -> frozenset[str]:
        """The live metadata's admin role names; syncs FAB's roles on a new version."""
        live = self.metadata.live()
        if live.number != self.synced_version:
            with self._lock:
                if live.number != self.synced_version:
                    result = sync_roles(self.appbuilder, live.model)
                    self._admins = frozenset(result.admin_roles)
                    self.synced_version = live.number
        return self._admins

    def end_session_transaction(self) -> None:
        """End the FAB session's open transaction (a read by Flask-Login, say), so that on
        SQLite it holds no lock while the request writes through another connection."""
        self.db.session.commit()


def fab_config(*, secret_key: str, admin_role: str) -> dict[str, Any]:
    """Flask and FAB settings metacrm relies on (the factory's overrides may refine them)."""
    return {
        "SECRET_KEY": secret_key,
        "JWT_SECRET_KEY": secret_key,
        "APP_NAME": "metacrm",
        "AUTH_TYPE": AUTH_DB,
        "AUTH_ROLE_ADMIN": admin_role,
        "AUTH_ROLE_PUBLIC": PUBLIC_ROLE,
        "AUTH_USER_REGISTRATION": False,
        "AUTH_RATE_LIMITED": True,
        "AUTH_RATE_LIMIT": "10 per 20 second",
        "FAB_ADD_SECURITY_API": True,
        "FAB_API_KEY_ENABLED": False,  # personal tokens are metacrm's (identity.token_store)
        "FAB_UPDATE_PERMS": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }


def install_identity(app: Flask, engine: sa.Engine, metadata: MetadataService) -> IdentityState:
    """Initialise FAB on `app` over `engine`; create missing tables; sync roles."""
    db = SharedEngineSQLA(engine)
    appbuilder = AppBuilder(security_manager_class=MetacrmSecurityManager)
    state = IdentityState(engine=engine, metadata=metadata, appbuilder=appbuilder, db=db)
    # Registered before FAB installs the rate limiter: hooks run in reverse order, so this
    # one runs after the limiter's, which would round a login wait down (1 s to 0).
    app.after_request(_exact_login_wait)
    with app.app_context():
        db.init_app(app)
        appbuilder.init_app(app, db.session)
        db.session.remove()  # FAB's setup reads leave a transaction open (a lock on SQLite)
        with engine.begin() as connection:
            create_token_table(connection)
            create_session_tables(connection)
            create_login_failure_table(connection)
        sm = appbuilder.sm
        sm.metacrm_engine = engine
        sm.epochs = EpochCache()
        sm.login_guard = state.login_guard = LoginGuard(engine)
        app.extensions[EXTENSION_KEY] = state
        app.before_request(refuse_overlong_values)
        state.admin_roles()
        db.session.remove()
    return state


def _exact_login_wait(response: Response) -> Response:
    wait = g.get(LOGIN_WAIT)
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response


def initial_admin_role(metadata: MetadataService) -> str:
    """AUTH_ROLE_ADMIN for a new app: the live metadata's first admin role."""
    return fab_admin_role(metadata.current_model())


def identity_state() -> IdentityState:
    """The identity state of the current app."""
    state: IdentityState = current_app.extensions[EXTENSION_KEY]
    return state
