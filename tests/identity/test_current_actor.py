"""`current_actor()` resolves a session login, a JWT or a personal token to the same Actor;
anything else is anonymous, and a refused credential says why."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_jwt_extended import create_access_token, create_refresh_token

from metacrm.identity.current import current_actor
from web_harness import Web, bearer, open_web


def whoami_blueprint() -> Blueprint:
    probe = Blueprint("whoami", __name__)

    @probe.get("/api/v1/whoami")
    def whoami() -> ResponseReturnValue:
        actor = current_actor()
        return jsonify(None if actor is None else asdict(actor))

    return probe


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    with open_web(isolated_database_url, tmp_path) as web:
        web.app.register_blueprint(whoami_blueprint())
        yield web


def whoami(web: Web, headers: dict[str, str] | None = None) -> object:
    response = web.client.get("/api/v1/whoami", headers=headers or {})
    assert response.status_code == 200
    return response.get_json()


def form_login(web: Web, username: str, password: str) -> None:
    page = web.client.get("/app/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert csrf is not None
    web.client.post("/app/login", data={"username": username, "password": password,
                                        "csrf_token": csrf.group(1)})


def token_for(web: Web, username: str) -> str:
    response = web.client.post("/api/v1/tokens", json={"name": "t"},
                               headers=bearer(web.login(username)))
    token: str = response.get_json()["data"]["token"]
    return token


def test_anonymous_is_none(web: Web) -> None:
    assert whoami(web) is None


def test_jwt_session_and_token_give_the_same_actor(web: Web) -> None:
    ann = web.create_user("ann", "clerk")
    expected = {"user_id": str(ann.id), "username": "ann", "roles": ["clerk"],
                "is_admin": False}

    assert whoami(web, bearer(web.login("ann"))) == expected
    assert whoami(web, bearer(token_for(web, "ann"))) == expected
    form_login(web, "ann", "correct horse battery")
    assert whoami(web) == expected


def test_the_metadata_admin_role_makes_an_admin(web: Web) -> None:
    web.create_user("root", "boss")

    actor = whoami(web, bearer(web.login("root")))

    assert actor["is_admin"] is True  # type: ignore[index]
    assert actor["roles"] == ["boss"]  # type: ignore[index]


def test_a_bad_authorization_header_beats_a_session(web: Web) -> None:
    web.create_user("ann")
    form_login(web, "ann", "correct horse battery")

    assert whoami(web, {"Authorization": "Bearer mcrm_0123456789ab_wrong"}) is None
    assert whoami(web, {"Authorization": "Basic YW5uOnB3"}) is None


def test_a_refresh_token_does_not_authenticate_requests(web: Web) -> None:
    ann = web.create_user("ann")
    with web.app.app_context():
        refresh = create_refresh_token(identity=str(ann.id))

    response = web.client.get("/api/v1/tokens", headers=bearer(refresh))

    assert response.status_code == 401
    assert "refresh token" in response.get_json()["detail"]


def test_an_expired_jwt_is_refused_with_its_reason(web: Web) -> None:
    ann = web.create_user("ann")
    with web.app.app_context():
        expired = create_access_token(identity=str(ann.id), expires_delta=timedelta(seconds=-1))

    response = web.client.get("/api/v1/tokens", headers=bearer(expired))

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "expired" in response.get_json()["detail"]


def test_a_remembered_jwt_is_refused_once_it_expires(web: Web) -> None:
    """Verified access tokens are reused for a few seconds, but never past their `exp`."""
    ann = web.create_user("ann")
    with web.app.app_context():
        # 3 s: both calls below must fit before `exp` on a loaded machine
        short = create_access_token(identity=str(ann.id), expires_delta=timedelta(seconds=3))

    assert whoami(web, bearer(short)) is not None
    assert whoami(web, bearer(short)) is not None  # the remembered verification
    time.sleep(3.1)

    response = web.client.get("/api/v1/tokens", headers=bearer(short))
    assert response.status_code == 401
    assert "expired" in response.get_json()["detail"]


def test_an_altered_copy_of_a_remembered_jwt_is_refused(web: Web) -> None:
    ann = web.create_user("ann")
    jwt = web.login("ann")
    assert whoami(web, bearer(jwt))["username"] == "ann"  # type: ignore[index]
    header, claims, signature = jwt.split(".")
    with web.app.app_context():
        other_claims = create_access_token(identity=str(ann.id) + "0").split(".")[1]

    # the signature's first character: all six of its bits count (the last one's do not)
    altered = ("B" if signature[0] == "A" else "A") + signature[1:]
    for forged in (f"{header}.{other_claims}.{signature}", f"{header}.{claims}.{altered}"):
        assert whoami(web, bearer(forged)) is None


def test_a_jwt_signed_with_another_key_is_refused(web: Web, tmp_path: Path,
                                                   isolated_database_url: str) -> None:
    ann = web.create_user("ann")
    with open_web(isolated_database_url, tmp_path / "other", roles=(),
                  settings_changes={"secret_key": "another-secret-key-of-enough-length-x"}
                  ) as other, other.app.app_context():
        forged = create_access_token(identity=str(ann.id))

    assert whoami(web, bearer(forged)) is None


def test_a_deactivated_users_jwt_stops_working(web: Web) -> None:
    web.create_user("ann")
    jwt = web.login("ann")

    web.set_active("ann", False)

    assert whoami(web, bearer(jwt)) is None


def test_services_can_import_the_actor_without_flask() -> None:
    code = (
        "import sys, metacrm.identity.actor\n"
        "loaded = [m for m in ('flask', 'flask_appbuilder', 'sqlalchemy') if m in sys.modules]\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
