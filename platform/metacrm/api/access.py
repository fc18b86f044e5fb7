"""`GET /api/v1/access/explain?user=<u>&entity=<e>[&id=<id>]` — for admins.

Answers which role, scope and rule grant or deny each operation and each field to user `u`
(login name or numeric id) on entity `e`, and for record `id` whether it is inside each
role's scope. The explanation is computed by the same policy code that enforces access
(RecordsService.explain); this handler only finds the user and renders it.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX
from metacrm.api.context import api_services, live_entity, subject_of
from metacrm.api.meta import require_admin
from metacrm.identity.actor import Actor
from metacrm.identity.fab_directory import find_user_id, load_user_identity
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed

access_api = Blueprint("metacrm_access", __name__, url_prefix=f"{API_PREFIX}/access")

PARAMETERS = ("user", "entity", "id")
MAX_USER_LENGTH = 255


@access_api.get("/explain")
def explain() -> Response:
    caller = subject_of(require_admin())
    user, entity, record_id = _parameters()
    live_entity(entity)
    target = subject_of(_actor_named(user))
    explanation = api_services().records.explain(target, entity, record_id, caller=caller)
    return jsonify({"data": explanation})


def _parameters() -> tuple[str, str, str | None]:
    errors = [ErrorDetail(f"unknown parameter; use: {', '.join(PARAMETERS)}", f"/{name}")
              for name in request.args if name not in PARAMETERS]
    values: dict[str, str | None] = {}
    for name in PARAMETERS:
        given = request.args.getlist(name)
        if len(given) > 1:
            errors.append(ErrorDetail("is given more than once", f"/{name}"))
        value = given[0].strip() if given else ""
        if "\x00" in value:
            errors.append(ErrorDetail("must not contain NUL characters", f"/{name}"))
        elif name != "id" and not value:
            errors.append(ErrorDetail("is required", f"/{name}"))
        elif len(value) > MAX_USER_LENGTH:
            errors.append(ErrorDetail(f"is longer than {MAX_USER_LENGTH} characters",
                                      f"/{name}"))
        values[name] = value or None
    if errors:
        raise ValidationFailed("invalid explain request", errors)
    return str(values["user"]), str(values["entity"]), values["id"]


def _actor_named(user: str) -> Actor:
    """The actor of a login name or user id, with the admin flag of the live metadata."""
    services = api_services()
    with services.engine.connect() as connection:
        user_id = find_user_id(connection, user)
        if user_id is None and user.isascii() and user.isdigit() and len(user) < 10:
            user_id = int(user)
        identity = load_user_identity(connection, user_id) if user_id is not None else None
    if identity is None:
        raise NotFound(f"there is no user {user!r}")
    roles = services.metadata.live().model.roles
    return Actor(
        user_id=str(identity.id),
        username=identity.username,
        roles=identity.roles,
        is_admin=any(name in roles and roles[name].admin for name in identity.roles),
    )
