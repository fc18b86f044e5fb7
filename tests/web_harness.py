"""A metacrm web app on the suite's database, for tests of identity and the API.

`open_web(database_url, root)` applies a small metadata model (two roles by default),
builds the app with `create_app` and gives helpers to create users and log in; it releases
the database connections at the end. Used by tests/identity, tests/api and tests/cli.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache

from fab_permissions_harness import fab_has_started, seed_fab_security
from metacrm.app import create_app, dispose_app
from metacrm.fieldtypes import default_registry
from metacrm.identity.bridge import IdentityState, identity_state
from metacrm.identity.roles import fab_admin_role
from metacrm.identity.users import NewUser, create_user
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine

PASSWORD = "correct horse battery"
REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis(url: str = REDIS_URL) -> redis.Redis:
    """A client of the test Redis; skips (fails under METACRM_REQUIRE_SERVICES=1, as
    tests/conftest.py does for PostgreSQL) when it is not reachable."""
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        reason = f"Redis not reachable at {url}: {exc}"
        if os.environ.get("METACRM_REQUIRE_SERVICES") == "1":
            pytest.fail(f"required service unavailable: {reason}")
        pytest.skip(reason)
    return client


def role(name: str, *, admin: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "role",
        "name": name,
        "version": 1,
        "label": {"en": name.title(), "ru": name},
        **extra,
    }
    if admin:
        body["admin"] = True
    return body


DEFAULT_ROLES = (role("boss", admin=True), role("clerk"))


def apply_metadata(database_url: str, bodies: Sequence[Mapping[str, Any]]) -> None:
    """Apply these documents as the next metadata version of the database."""
    registry = default_registry()
    engine = create_database_engine(database_url)
    try:
        documents = [
            Document.from_body(body, source=f"{body['name']}.json", pack="test")
            for body in bodies
        ]
        MetadataService(engine, registry).apply(documents, author="test")
    finally:
        engine.dispose()


def settings_for(database_url: str, root: Path, **changes: Any) -> Settings:
    """Settings of a test instance: the given database, an instance folder under `root`."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "metadata_paths": (root / "packs",),
        "redis_url": None,
        "secret_key": "test-secret-key-that-is-long-enough-for-hs256",
        "instance_path": root / "instance",
        **changes,
    }
    return Settings(**values)


class Web:
    """An app under test with shortcuts for users, logins and authenticated requests."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.client: FlaskClient = app.test_client()

    @property
    def identity(self) -> IdentityState:
        with self.app.app_context():
            return identity_state()

    def create_user(self, username: str, role_name: str = "clerk", *,
                    email: str | None = None) -> NewUser:
        with self.app.app_context():
            state = identity_state()
            return create_user(
                state.appbuilder,
                state.metadata.live().model,
                username=username,
                role=role_name,
                password=PASSWORD,
                email=email,
            )

    def login(self, username: str, password: str = PASSWORD) -> str:
        """A JWT access token from FAB's login API."""
        response = self.client.post(
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db"},
        )
        assert response.status_code == 200, response.get_json()
        token: str = response.get_json()["access_token"]
        return token

    def set_active(self, username: str, active: bool) -> None:
        with self.app.app_context():
            sm = identity_state().appbuilder.sm
            user = sm.find_user(username=username)
            user.active = active
            sm.session.commit()

    def delete_user(self, username: str) -> None:
        with self.app.app_context():
            sm = identity_state().appbuilder.sm
            assert sm.delete_user(sm.find_user(username=username))


class SharedTemplateCache(BytecodeCache):
    """Compiled templates shared by this process's test apps, by template name and source
    checksum: each app's own Jinja environment would compile every page template again
    (a tenth of a screen test's time). All test apps configure Jinja alike."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = SharedTemplateCache()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def open_web(
    database_url: str,
    root: Path,
    *,
    roles: Sequence[Mapping[str, Any]] = DEFAULT_ROLES,
    settings_changes: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Iterator[Web]:
    """Apply `roles` as metadata, build the app, yield it; dispose of its engine after."""
    if roles:
        apply_metadata(database_url, roles)
    settings = settings_for(database_url, root, **(settings_changes or {}))
    # A cheap password hash keeps logins fast in tests; production keeps FAB's scrypt.
    overrides.setdefault("FAB_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    seeded = "FAB_UPDATE_PERMS" not in overrides and _seed_fab(database_url, overrides)
    if seeded:  # FAB's permission rows are there already (fab_permissions_harness)
        overrides["FAB_UPDATE_PERMS"] = False
    app = create_app(settings, TESTING=True, **overrides)
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    try:
        if seeded:  # views registered from now on sync their permissions, as in production
            with app.app_context():
                identity_state().appbuilder.update_perms = True
        yield Web(app, settings)
    finally:
        dispose_app(app)


def _seed_fab(database_url: str, overrides: Mapping[str, Any]) -> bool:
    """Copy FAB's permission rows into a database FAB has not started on yet."""
    engine = create_database_engine(database_url)
    try:
        if fab_has_started(engine):
            return False
        admin = overrides.get("AUTH_ROLE_ADMIN") or fab_admin_role(
            MetadataService(engine, default_registry()).current_model())
        return seed_fab_security(engine, admin, overrides)
    finally:
        engine.dispose()
