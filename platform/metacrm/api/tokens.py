"""Personal API tokens over HTTP: create (the secret is shown once), list, revoke.

* `POST /api/v1/tokens` `{"name": ..., "expires_at": RFC 3339 or null}` -> 201 with the
  token text in `token`; needs a password login (session or JWT), not a token;
* `GET /api/v1/tokens` -> the caller's tokens, never their secrets;
* `DELETE /api/v1/tokens/<id>` -> 204; the caller's own token, or anyone's for an admin.
  Another user's token answers 404 to a non-admin: its existence is not theirs to learn.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from metacrm.api import API_PREFIX
from metacrm.api.problems import json_body
from metacrm.fieldtypes.base import FieldValueError
from metacrm.fieldtypes.temporal import datetime_to_json, parse_datetime
from metacrm.identity.bridge import identity_state
from metacrm.identity.current import require_actor, require_interactive_login
from metacrm.identity.token_store import (
    NAME_MAX_LENGTH,
    TokenInfo,
    find_token,
    issue_token,
    list_tokens,
    revoke_token,
)
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed

TOKEN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

tokens_api = Blueprint("metacrm_tokens", __name__, url_prefix=f"{API_PREFIX}/tokens")


class MomentField(fields.Field[datetime]):
    """An RFC 3339 date-time with offset, as everywhere in the API (fieldtypes.temporal)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_datetime(value)
        except FieldValueError as exc:
            raise ValidationError(str(exc)) from None


def _printable(text: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValidationError("must not contain control characters")


class NewTokenSchema(Schema):
    name = fields.String(
        required=True, validate=[validate.Length(min=1, max=NAME_MAX_LENGTH), _printable]
    )
    expires_at = MomentField(load_default=None, allow_none=True)

    class Meta:
        unknown = RAISE


@tokens_api.post("")
def create_token() -> tuple[Response, int, dict[str, str]]:
    actor = require_interactive_login()
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationFailed("the request body must be a JSON object",
                               [ErrorDetail("must be an object", "")])
    payload = NewTokenSchema().load(body)
    name = payload["name"].strip()
    if not name:
        raise ValidationFailed("the token needs a name", [ErrorDetail("must not be blank",
                                                                      "/name")])
    now = datetime.now(UTC)
    expires_at: datetime | None = payload["expires_at"]
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed("the expiry is in the past",
                               [ErrorDetail("must be in the future", "/expires_at")])
    with identity_state().engine.begin() as connection:
        issued = issue_token(
            connection, user_id=int(actor.user_id), name=name, expires_at=expires_at, now=now
        )
    document = {**_describe(issued.info), "token": issued.secret}
    return jsonify({"data": document}), 201, {"Location": f"{API_PREFIX}/tokens/{issued.info.id}"}


@tokens_api.get("")
def list_own_tokens() -> Response:
    actor = require_actor()
    with identity_state().engine.connect() as connection:
        tokens = list_tokens(connection, int(actor.user_id))
    return jsonify({"data": [_describe(token) for token in tokens]})


@tokens_api.delete("/<token_id>")
def revoke(token_id: str) -> tuple[str, int]:
    actor = require_actor()
    if not TOKEN_ID.match(token_id):
        raise _no_such_token(token_id)
    with identity_state().engine.begin() as connection:
        token = find_token(connection, token_id)
        if token is None or (str(token.user_id) != actor.user_id and not actor.is_admin):
            raise _no_such_token(token_id)
        revoke_token(connection, token.id)
    return "", 204


def _no_such_token(token_id: str) -> NotFound:
    return NotFound(f"there is no token {token_id[:40]!r} of yours")


def _describe(token: TokenInfo) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "user_id": str(token.user_id),
        "created_at": datetime_to_json(token.created_at),
        "expires_at": _moment(token.expires_at),
        "last_used_at": _moment(token.last_used_at),
    }


def _moment(value: datetime | None) -> str | None:
    return datetime_to_json(value) if value is not None else None
