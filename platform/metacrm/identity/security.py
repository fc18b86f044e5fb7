"""Metacrm's Flask-AppBuilder security manager: FAB's, with three repairs.

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

from typing import Any

from flask import Flask, Response, current_app, jsonify
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.apis import PermissionViewMenuApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import PermissionView
from flask_appbuilder.utils.limit import Limit
from flask_jwt_extended import JWTManager
from flask_limiter.util import get_remote_address
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema


def _login_limit() -> str:
    return str(current_app.config["AUTH_RATE_LIMIT"])


class MetacrmSecurityApi(SecurityApi):  # type: ignore[misc]  # FAB has no type hints
    """FAB's security API (JWT login and refresh) with a per-address login limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.limits = [Limit(_login_limit, key_func=get_remote_address, methods=("POST",))]
        super().__init__(*args, **kwargs)


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

    def auth_user_db(self, username: Any, password: Any) -> Any:
        if isinstance(username, str) and "\x00" in username:
            return None
        return super().auth_user_db(username, password)

    def create_jwt_manager(self, app: Flask) -> JWTManager:
        manager: JWTManager = super().create_jwt_manager(app)
        manager.invalid_token_loader(_invalid_jwt)
        return manager


def _invalid_jwt(reason: str) -> tuple[Response, int]:
    return jsonify({"msg": f"the access token is not valid: {reason}"}), 401
