"""Over-long values sent to Flask-AppBuilder's REST APIs are a 422, not a database error.

FAB's model APIs (`/api/v1/security/users/`, `roles/`, `permissions/`, `resources/`...)
validate their bodies with marshmallow schemas that do not know the columns' lengths (the
user schema allows a 250-character user name for a 128-character column), so an over-long
value reached the database: a 500 on PostgreSQL, silently stored on SQLite (issue 11, F7).
This check runs before any of those APIs, reads each string column's length from the API's
own model, and refuses every member that does not fit, all at once, each at its pointer.
FAB's HTML forms need nothing: their fields get `Length` validators from the same columns.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, request
from flask_jwt_extended import verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from metacrm.kernel.errors import ErrorDetail, ValidationFailed

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def column_lengths(model: Any) -> dict[str, int]:
    """Attribute name -> length, for the length-limited string columns of `model`."""
    return {
        attribute.key: attribute.columns[0].type.length
        for attribute in sa.inspect(model).column_attrs
        if isinstance(attribute.columns[0].type, sa.String)
        and attribute.columns[0].type.length is not None
    }


def refuse_overlong_values() -> None:
    """`before_request` hook: a write to a FAB model API whose JSON members are longer than
    their columns is refused with ValidationFailed (422) before FAB sees it."""
    if request.method not in WRITE_METHODS or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    datamodel = getattr(getattr(view, "__self__", None), "datamodel", None)
    model = getattr(datamodel, "obj", None)
    if model is None:
        return
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not _signed_in():
        return  # FAB answers an anonymous caller with 401, whatever the body says
    lengths = column_lengths(model)
    errors = [
        ErrorDetail(f"is longer than {lengths[key]} characters", f"/{key}")
        for key, value in body.items()
        if key in lengths and isinstance(value, str) and len(value) > lengths[key]
    ]
    if errors:
        raise ValidationFailed("the request body is not valid", errors)


def _signed_in() -> bool:
    """Whether FAB will see a signed-in user (session or JWT) on this request."""
    try:
        verify_jwt_in_request(optional=True)
    except (JWTExtendedException, PyJWTError):
        return False
    return current_app.extensions["appbuilder"].sm.current_user is not None
