"""Flask-SQLAlchemy for Flask-AppBuilder, on metacrm's own engine.

FAB keeps users and roles (`ab_*` tables) through a Flask-SQLAlchemy session. Handing it the
engine metacrm already made (metacrm.storage.engine) means one connection pool per process
and the same connection setup everywhere: on SQLite transactional DDL, foreign keys (so a
deleted user's API tokens go with them) and PostgreSQL-compatible `lower()`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_appbuilder.models.sqla.base import SQLA


class SharedEngineSQLA(SQLA):  # type: ignore[misc]  # FAB has no type hints
    """A Flask-SQLAlchemy extension whose default engine is one given up front."""

    def __init__(self, engine: sa.Engine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shared_engine = engine

    def init_app(self, app: Flask) -> None:
        app.config["SQLALCHEMY_DATABASE_URI"] = self._shared_engine.url
        super().init_app(app)

    def _make_engine(
        self, bind_key: str | None, options: dict[str, Any], app: Flask
    ) -> sa.Engine:
        if bind_key is not None:
            engine: sa.Engine = super()._make_engine(bind_key, options, app)
            return engine
        return self._shared_engine
