"""The incumbent of bench/api.py: Flask-AppBuilder 5's `ModelRestApi` on the same data.

A stock FAB app, configured as its documentation shows (Flask-SQLAlchemy session, database
login, JWT login through its security API): a declarative model mapped to a copy of metacrm's
table in its own schema (FAB's `ab_*` tables live there too) and a `ModelRestApi` over it
with the list, show and add columns a developer would declare. Requests authenticate with
a JWT of FAB's `Admin` role, so FAB's permission check is part of every request, as it
would be in production.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_appbuilder import AppBuilder, Model, ModelRestApi
from flask_appbuilder.const import AUTH_DB
from flask_appbuilder.models.sqla.base import SQLA
from flask_appbuilder.models.sqla.interface import SQLAInterface

from api_data import FAB_TABLE, FIELD_COLUMNS

ADMIN = "fabadmin"
PASSWORD = "bench password 1"  # noqa: S105  # a throwaway bench user


def _now() -> datetime:
    return datetime.now(UTC)


class Gadget(Model):  # type: ignore[misc]  # FAB has no type hints
    """The copy of metacrm's table, with Python defaults for the system columns."""

    __tablename__ = FAB_TABLE
    num = sa.Column(sa.BigInteger, primary_key=True, autoincrement=True)
    id = sa.Column(sa.String(36), unique=True, nullable=False,
                   default=lambda: str(uuid.uuid4()))
    created_at = sa.Column(sa.DateTime(timezone=True), nullable=False, default=_now)
    created_by = sa.Column(sa.String(64), default="fab")
    updated_at = sa.Column(sa.DateTime(timezone=True), nullable=False, default=_now)
    updated_by = sa.Column(sa.String(64), default="fab")
    owner = sa.Column(sa.String(64), default="fab")
    version = sa.Column(sa.Integer, nullable=False, default=1)
    title = sa.Column(sa.String(200), nullable=False)
    quantity = sa.Column(sa.Integer)
    weight = sa.Column(sa.Numeric(12, 3))
    price = sa.Column(sa.Numeric(18, 2))
    price_currency = sa.Column(sa.String(3))
    due_on = sa.Column(sa.Date)
    seen_at = sa.Column(sa.DateTime(timezone=True))
    active = sa.Column(sa.Boolean)
    stage = sa.Column(sa.String(64))
    email = sa.Column(sa.String(254))
    manager = sa.Column(sa.String(64))


ALL_COLUMNS = ["num", "id", "created_at", "created_by", "updated_at", "updated_by", "owner",
               "version", *FIELD_COLUMNS]


class GadgetApi(ModelRestApi):  # type: ignore[misc]
    resource_name = "gadget"
    datamodel = SQLAInterface(Gadget)
    list_columns: ClassVar[list[str]] = ALL_COLUMNS
    show_columns: ClassVar[list[str]] = ALL_COLUMNS
    add_columns: ClassVar[list[str]] = list(FIELD_COLUMNS)
    order_columns: ClassVar[list[str]] = ["price", "quantity", "num"]
    search_columns: ClassVar[list[str]] = ["stage", "quantity", "title"]
    page_size = 50


def create_fab_app(database_url: str) -> Flask:
    """A FAB app on `database_url` (whose search_path holds the copy) with an admin user."""
    app = Flask("fab_bench")
    app.config.update(
        SECRET_KEY="bench-secret-key-that-is-long-enough-for-hs256",  # noqa: S106
        SQLALCHEMY_DATABASE_URI=database_url,
        AUTH_TYPE=AUTH_DB,
        AUTH_ROLE_ADMIN="Admin",
        # The JWT login API is always on; the user/role admin APIs are not needed (and
        # FAB 5.3's permission API does not build under marshmallow 4, FAB issue #2361).
        FAB_ADD_SECURITY_API=False,
        FAB_UPDATE_PERMS=True,
        FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",  # noqa: S106
        WTF_CSRF_ENABLED=False,
    )
    db = SQLA()
    db.init_app(app)
    appbuilder = AppBuilder()
    with app.app_context():
        appbuilder.init_app(app, db.session)
        appbuilder.add_api(GadgetApi)
        sm: Any = appbuilder.sm
        if sm.find_user(username=ADMIN) is None:
            sm.add_user(ADMIN, "Fab", "Admin", "fab@example.com", sm.find_role("Admin"),
                        password=PASSWORD)
        db.session.remove()
    return app


def fab_login(client: FlaskClient) -> dict[str, str]:
    """Authorization headers with a JWT from FAB's security API."""
    response = client.post("/api/v1/security/login",
                           json={"username": ADMIN, "password": PASSWORD, "provider": "db"})
    if response.status_code != 200:
        raise RuntimeError(f"FAB login failed: {response.status_code} {response.get_data(True)}")
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def dispose_fab(app: Flask) -> None:
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
