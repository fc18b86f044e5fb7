"""Who is making this request: a session login, a JWT or a personal API token.

Credentials in the `Authorization` header win over a session cookie; a header that does
not authenticate leaves the request anonymous (it never falls back to the cookie), and the
reason is kept for the 401 answer. The result is computed once per request (kept in
`flask.g`); the rate limiter keys on it too. Loaded users and verified personal tokens are
reused for a few seconds per process (identity.user_cache, token_store): a deactivated user,
changed roles or a token revoked elsewhere take effect within `IDENTITY_CACHE_TTL` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import flask_login
import jwt
from flask import g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter.util import get_remote_address

from metacrm.identity.actor import Actor
from metacrm.identity.bridge import IdentityState, identity_state
from metacrm.identity.fab_directory import UserIdentity, load_user_identity
from metacrm.identity.token_store import looks_like_token, recently_verified, verify_token
from metacrm.kernel.errors import Forbidden, Unauthenticated

Method = Literal["session", "jwt", "token"]

_CACHE = "_metacrm_identity"
_MAX_USER_ID = 2**31  # FAB's user ids are 32-bit integers


@dataclass(frozen=True)
class Authentication:
    """The outcome for one request: an actor (or None) and how or why not."""

    actor: Actor | None
    method: Method | None = None
    token_id: str | None = None
    refusal: str | None = None
    """Why presented credentials were refused (None when none were presented)."""


def authentication() -> Authentication:
    """Authenticate the current request (once; later calls reuse the result)."""
    cached: Authentication | None = g.get(_CACHE)
    if cached is None:
        cached = _authenticate(identity_state())
        setattr(g, _CACHE, cached)
    return cached


def current_actor() -> Actor | None:
    """The authenticated caller, or None when anonymous."""
    return authentication().actor


def require_actor() -> Actor:
    """The authenticated caller; Unauthenticated (401) when there is none."""
    result = authentication()
    if result.actor is None:
        raise Unauthenticated(
            result.refusal
            or "authentication required: log in, or send 'Authorization: Bearer <token>' "
            "with a JWT from POST /api/v1/security/login or a personal API token"
        )
    return result.actor


def require_interactive_login() -> Actor:
    """The caller, who must have logged in with a password (session or JWT): Forbidden (403)
    for a personal API token, so a leaked token cannot mint tokens that outlive it."""
    actor = require_actor()
    if authentication().method == "token":
        raise Forbidden(
            "personal API tokens cannot manage tokens: log in with your password "
            "(session or JWT) to do this"
        )
    return actor


def rate_limit_key() -> str:
    """The bucket a request counts against: its token, its user, or its client address."""
    result = authentication()
    if result.token_id is not None:
        return f"token:{result.token_id}"
    if result.actor is not None:
        return f"user:{result.actor.user_id}"
    return f"address:{get_remote_address()}"


def _authenticate(state: IdentityState) -> Authentication:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return Authentication(None, refusal="the Authorization header must be "
                                  "'Bearer <token>'")
        if looks_like_token(credentials):
            return _from_personal_token(state, credentials)
        return _from_jwt(state, credentials)
    return _from_session(state)


def _from_personal_token(state: IdentityState, presented: str) -> Authentication:
    refused = Authentication(
        None, refusal="the personal API token is not valid (unknown, revoked or expired)"
    )
    now = datetime.now(UTC)
    token = recently_verified(presented, now=now)
    user = state.users.get(token.user_id) if token is not None else None
    if token is None or user is None:
        with state.engine.begin() as connection:
            token = verify_token(connection, presented, now=now)
            user = (
                state.users.get_or_load(
                    token.user_id, lambda: load_user_identity(connection, token.user_id)
                )
                if token is not None
                else None
            )
    if token is None or user is None or not user.active:
        return refused
    return Authentication(_actor(state, user), method="token", token_id=token.id)


def _from_jwt(state: IdentityState, encoded: str) -> Authentication:
    try:
        claims = _verified_claims(state, encoded)
    except (JWTExtendedException, jwt.PyJWTError) as exc:
        return Authentication(None, refusal=f"the access token is not valid: {exc}")
    if claims.get("type") != "access":
        return Authentication(None, refusal="a refresh token cannot authenticate requests; "
                              "use it at POST /api/v1/security/refresh")
    user = _load(state, claims.get("sub"))
    if user is None or not user.active:
        return Authentication(None, refusal="the access token's user no longer exists or "
                              "is deactivated")
    return Authentication(_actor(state, user), method="jwt")


def _verified_claims(state: IdentityState, encoded: str) -> dict[str, Any]:
    """The claims of a valid JWT; PyJWT/flask-jwt-extended errors when it is not. A token
    verified in the last few seconds is not verified again unless it has expired since
    (then decoding it anew gives the "expired" refusal). Only tokens that passed the check
    are remembered, keyed by their exact text, so a forged or altered token never hits."""
    claims = state.jwt_claims.get(encoded)
    if claims is not None and _before_expiry(claims):
        return claims
    claims = decode_token(encoded)
    state.jwt_claims.put(encoded, claims)
    return claims


def _before_expiry(claims: dict[str, Any]) -> bool:
    expires = claims.get("exp")
    return expires is None or (isinstance(expires, int | float) and time.time() < expires)


def _from_session(state: IdentityState) -> Authentication:
    user = flask_login.current_user
    if not getattr(user, "is_authenticated", False):
        return Authentication(None)
    user_id = user.get_id()
    state.end_session_transaction()
    found = _load(state, user_id)
    if found is None or not found.active:
        return Authentication(None)
    return Authentication(_actor(state, found), method="session")


def _load(state: IdentityState, subject: object) -> UserIdentity | None:
    try:
        user_id = int(str(subject))
    except ValueError:
        return None
    if not 0 < user_id < _MAX_USER_ID:
        return None
    return state.users.get_or_load(user_id, lambda: _load_now(state, user_id))


def _load_now(state: IdentityState, user_id: int) -> UserIdentity | None:
    with state.engine.connect() as connection:
        return load_user_identity(connection, user_id)


def _actor(state: IdentityState, user: UserIdentity) -> Actor:
    admins = state.admin_roles()
    return Actor(
        user_id=str(user.id),
        username=user.username,
        roles=user.roles,
        is_admin=any(role in admins for role in user.roles),
    )
