"""Revocable sessions (issue 11 F2): logout, a password change, deactivation and role
removal end sessions on the server at once — in every app sharing the database — and
JWTs issued before a password change or deactivation stop working."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from metacrm.identity.bridge import identity_state
from metacrm.identity.session_store import (
    IDLE_TIMEOUT,
    MAX_AGE,
    live_session,
    session_metadata,
    start_session,
)
from web_harness import PASSWORD, Web, bearer, open_web

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_FAB_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    with open_web(isolated_database_url, tmp_path,
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        web.create_user("ann", "clerk")
        yield web


def csrf(client: FlaskClient) -> str:
    response = client.get("/app/login")
    if response.status_code == 302:
        response = client.get("/app/")
    found = _CSRF.search(response.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def sign_in(web: Web, username: str = "ann", password: str = PASSWORD) -> FlaskClient:
    client = web.app.test_client()
    response = client.post("/app/login", data={"csrf_token": csrf(client),
                                               "username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def copy_of(web: Web, client: FlaskClient) -> FlaskClient:
    """Another browser holding the same session cookie (a stolen copy, say)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = web.app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def signed_out(client: FlaskClient) -> bool:
    """The page sends the browser to the login page and the API answers 401."""
    page = client.get("/app/")
    api = client.get("/api/v1/tokens")
    return (page.status_code == 302 and page.headers["Location"].startswith("/app/login")
            and api.status_code == 401)


def signed_in(client: FlaskClient) -> bool:
    return client.get("/app/").status_code == 200 and \
        client.get("/api/v1/tokens").status_code == 200


def test_a_session_cookie_kept_after_logout_gets_the_login_page_and_401(web: Web) -> None:
    ann = sign_in(web)
    kept = copy_of(web, ann)
    assert signed_in(kept)

    logout = ann.post("/app/logout", data={"csrf_token": csrf(ann)})

    assert logout.status_code == 302
    assert signed_out(ann)
    assert signed_out(kept)


def test_fabs_logout_ends_the_session_too(web: Web) -> None:
    ann = sign_in(web)
    kept = copy_of(web, ann)

    ann.get("/logout/")

    assert signed_out(kept)


def test_a_password_change_by_the_user_ends_their_other_sessions_and_tokens(
    web: Web
) -> None:
    here, elsewhere = sign_in(web), sign_in(web)
    access = web.login("ann")
    refresh = web.client.post("/api/v1/security/login", json={
        "username": "ann", "password": PASSWORD, "provider": "db", "refresh": True,
    }).get_json()["refresh_token"]
    assert web.client.get("/api/v1/tokens", headers=bearer(access)).status_code == 200
    form = here.get("/resetmypassword/form").get_data(as_text=True)
    token = _FAB_CSRF.search(form)
    assert token is not None

    changed = here.post("/resetmypassword/form", data={
        "csrf_token": token.group(1), "password": NEW_PASSWORD,
        "conf_password": NEW_PASSWORD})

    assert changed.status_code == 302
    assert signed_in(here)  # the session that changed the password goes on
    assert signed_out(elsewhere)
    refused = web.client.get("/api/v1/tokens", headers=bearer(access))
    assert refused.status_code == 401
    assert "log in again" in refused.get_json()["detail"]
    assert web.client.post("/api/v1/security/refresh",
                           headers=bearer(refresh)).status_code == 401
    fresh = web.login("ann", NEW_PASSWORD)
    assert web.client.get("/api/v1/tokens", headers=bearer(fresh)).status_code == 200


def test_deactivation_in_one_app_ends_sessions_in_another_sharing_the_database(
    isolated_database_url: str, tmp_path: Path
) -> None:
    changes = {"rate_limit": "100000 per minute"}
    with open_web(isolated_database_url, tmp_path / "a", settings_changes=changes) as first:
        first.create_user("ann", "clerk")
        with open_web(isolated_database_url, tmp_path / "b", roles=(),
                      settings_changes=changes) as second:
            ann = sign_in(second)
            access = second.login("ann")
            assert signed_in(ann)

            first.set_active("ann", False)

            assert signed_out(ann)
            first.set_active("ann", True)  # ended, not suspended: reactivating revives nothing
            assert signed_out(ann)
            assert second.client.get("/api/v1/tokens", headers=bearer(access)).status_code == 401
            assert signed_in(sign_in(second))


def test_removing_a_role_ends_the_users_sessions_but_adding_one_does_not(web: Web) -> None:
    ann = sign_in(web)
    with web.app.app_context():
        sm = identity_state().appbuilder.sm
        user = sm.find_user(username="ann")
        user.roles = [*user.roles, sm.find_role("boss")]
        sm.session.commit()
    assert signed_in(ann)

    with web.app.app_context():
        sm = identity_state().appbuilder.sm
        user = sm.find_user(username="ann")
        user.roles = [role for role in user.roles if role.name != "clerk"]
        sm.session.commit()

    assert signed_out(ann)


def test_a_logged_in_user_can_still_use_the_api_with_the_session(web: Web) -> None:
    ann = sign_in(web)

    assert signed_in(ann)


@pytest.fixture
def store(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as connection:
        session_metadata.create_all(connection)
        connection.execute(session_metadata.tables["ab_user"].insert().values(id=1))
    return engine


def test_a_session_ends_after_thirty_idle_minutes(store: sa.Engine) -> None:
    start = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    with store.begin() as connection:
        session_id = start_session(connection, 1, start)
        assert live_session(connection, session_id, 1, start + IDLE_TIMEOUT
                            - timedelta(seconds=1)) is not None
        later = start + IDLE_TIMEOUT * 2 - timedelta(seconds=2)  # still alive: it was used
        assert live_session(connection, session_id, 1, later) is not None
        assert live_session(connection, session_id, 2, later) is None  # someone else's
        assert live_session(connection, session_id, 1, later + IDLE_TIMEOUT) is None


def test_a_session_ends_twelve_hours_after_the_login_however_busy(store: sa.Engine) -> None:
    start = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    with store.begin() as connection:
        session_id = start_session(connection, 1, start)
        moment = start
        while moment + timedelta(minutes=20) < start + MAX_AGE:
            moment += timedelta(minutes=20)
            assert live_session(connection, session_id, 1, moment) is not None
        assert live_session(connection, session_id, 1, start + MAX_AGE) is None
