"""Personal API tokens through the API: created once, listed without secrets, revocable,
authenticating as their user only while the user is active."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from metacrm.identity.token_store import find_token
from web_harness import Web, bearer, open_web


@contextmanager
def open_token_web(database_url: str, root: Path) -> Iterator[Web]:
    with open_web(database_url, root) as web:
        web.create_user("ann", "clerk")
        web.create_user("bob", "clerk")
        web.create_user("root", "boss")
        yield web


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    with open_token_web(isolated_database_url, tmp_path) as web:
        yield web


@pytest.fixture(scope="module")
def shared_web(module_database_url: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One app for the tests whose requests are refused before any login (nothing is
    stored): an app costs far more than a refused request. Tests that log in keep their
    own app — FAB allows 10 logins per 20 seconds."""
    with open_token_web(module_database_url, tmp_path_factory.mktemp("tokens")) as web:
        yield web


def create_token(web: Web, jwt: str, **payload: object) -> dict[str, object]:
    response = web.client.post("/api/v1/tokens", json={"name": "ci", **payload},
                               headers=bearer(jwt))
    assert response.status_code == 201, response.get_json()
    document: dict[str, object] = response.get_json()["data"]
    return document


def whoami(web: Web, token: str) -> int:
    """Status of an authenticated request made with `token`."""
    return web.client.get("/api/v1/tokens", headers=bearer(token)).status_code


def test_login_returns_a_jwt_that_authenticates(web: Web) -> None:
    jwt = web.login("ann")

    response = web.client.get("/api/v1/tokens", headers=bearer(jwt))

    assert response.status_code == 200
    assert response.get_json() == {"data": []}


def test_wrong_password_is_a_401_problem(web: Web) -> None:
    response = web.client.post(
        "/api/v1/security/login",
        json={"username": "ann", "password": "not her password", "provider": "db"},
    )

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_anonymous_request_is_a_401_problem_not_a_redirect(shared_web: Web) -> None:
    response = shared_web.client.get("/api/v1/tokens")

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "Location" not in response.headers


def test_a_created_token_is_shown_once_and_authenticates_as_its_user(web: Web) -> None:
    created = create_token(web, web.login("ann"))

    token = str(created["token"])
    assert token.startswith("mcrm_")
    listed = web.client.get("/api/v1/tokens", headers=bearer(token)).get_json()["data"]
    assert [item["id"] for item in listed] == [created["id"]]  # ann's tokens: it acts as ann
    assert listed[0]["user_id"] == created["user_id"]
    assert listed[0]["last_used_at"] is not None


def test_listing_never_shows_a_secret(web: Web) -> None:
    jwt = web.login("ann")
    secret = str(create_token(web, jwt)["token"])

    response = web.client.get("/api/v1/tokens", headers=bearer(jwt))

    assert secret not in response.get_data(as_text=True)
    assert set(response.get_json()["data"][0]) == {
        "id", "name", "prefix", "user_id", "created_at", "expires_at", "last_used_at"
    }


def test_the_database_keeps_a_hash_not_the_token(web: Web) -> None:
    created = create_token(web, web.login("ann"))

    with web.identity.engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT * FROM metacrm_api_tokens").all()
    assert str(created["token"]) not in repr(raw)


def test_a_revoked_token_no_longer_authenticates(web: Web) -> None:
    jwt = web.login("ann")
    created = create_token(web, jwt)
    assert whoami(web, str(created["token"])) == 200

    response = web.client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer(jwt))

    assert response.status_code == 204
    refused = web.client.get("/api/v1/tokens", headers=bearer(str(created["token"])))
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"


def test_another_users_token_cannot_be_revoked_by_a_non_admin(web: Web) -> None:
    created = create_token(web, web.login("ann"))

    response = web.client.delete(
        f"/api/v1/tokens/{created['id']}", headers=bearer(web.login("bob"))
    )

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert whoami(web, str(created["token"])) == 200


def test_an_admin_may_revoke_anyones_token(web: Web) -> None:
    created = create_token(web, web.login("ann"))

    response = web.client.delete(
        f"/api/v1/tokens/{created['id']}", headers=bearer(web.login("root"))
    )

    assert response.status_code == 204
    assert whoami(web, str(created["token"])) == 401


def test_users_list_only_their_own_tokens(web: Web) -> None:
    create_token(web, web.login("ann"))

    response = web.client.get("/api/v1/tokens", headers=bearer(web.login("bob")))

    assert response.get_json() == {"data": []}


def test_a_token_stops_working_when_its_user_is_deactivated(web: Web) -> None:
    token = str(create_token(web, web.login("ann"))["token"])

    web.set_active("ann", False)

    assert whoami(web, token) == 401


def test_a_token_goes_with_its_deleted_user(web: Web) -> None:
    created = create_token(web, web.login("ann"))

    web.delete_user("ann")

    assert whoami(web, str(created["token"])) == 401
    with web.identity.engine.connect() as connection:
        assert find_token(connection, str(created["id"])) is None


def test_an_expired_token_is_refused(web: Web) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    created = create_token(web, web.login("ann"), expires_at=soon.isoformat())
    assert created["expires_at"] is not None
    with web.identity.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE metacrm_api_tokens SET expires_at = created_at"
        )

    assert whoami(web, str(created["token"])) == 401


def test_an_expiry_in_the_past_is_refused(web: Web) -> None:
    response = web.client.post(
        "/api/v1/tokens",
        json={"name": "old", "expires_at": "2001-01-01T00:00:00Z"},
        headers=bearer(web.login("ann")),
    )

    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"pointer": "/expires_at", "message": "must be in the future"}
    ]


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": "   "}, "/name"),
        ({"name": "x" * 101}, "/name"),
        ({"name": "a\u0000b"}, "/name"),
        ({"name": 12}, "/name"),
        ({"name": "ok", "expires_at": "tomorrow"}, "/expires_at"),
        ({"name": "ok", "expires_at": "2031-01-01T00:00:00"}, "/expires_at"),
        ({"name": "ok", "scopes": ["all"]}, "/scopes"),
        (["name"], ""),
    ],
)
def test_bad_token_requests_point_at_the_problem(
    web: Web, payload: object, pointer: str
) -> None:
    response = web.client.post("/api/v1/tokens", json=payload, headers=bearer(web.login("ann")))

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert pointer in [error["pointer"] for error in response.get_json()["errors"]]


def test_a_personal_token_cannot_create_tokens(web: Web) -> None:
    token = str(create_token(web, web.login("ann"))["token"])

    response = web.client.post("/api/v1/tokens", json={"name": "more"}, headers=bearer(token))

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_token_creation_needs_a_json_body(web: Web) -> None:
    response = web.client.post(
        "/api/v1/tokens", data="name=ci", headers=bearer(web.login("ann")),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "token",
    ["mcrm_", "mcrm_0123456789ab", "mcrm_0123456789ab_", "mcrm_zzzzzzzzzzzz_secret",
     "mcrm_0123456789ab_not-a-real-secret", "not.a.jwt", "a.b.c"],
)
def test_made_up_credentials_are_refused_with_401(shared_web: Web, token: str) -> None:
    response = shared_web.client.get("/api/v1/tokens", headers=bearer(token))

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_forged_token_with_a_real_prefix_is_refused(web: Web) -> None:
    real = str(create_token(web, web.login("ann"))["token"])
    forged = real[: len("mcrm_0123456789ab_")] + "guessed-secret"

    assert whoami(web, forged) == 401


@pytest.mark.parametrize("token_id", ["a%00b", "x" * 500, "01a219f8-8dec-7ca1-b1d0-4307e19c27ea"])
def test_revoking_a_token_that_is_not_there_is_a_404(web: Web, token_id: str) -> None:
    response = web.client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(web.login("ann")))

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_user_name_with_a_nul_character_just_fails_to_log_in(web: Web) -> None:
    response = web.client.post(
        "/api/v1/security/login",
        json={"username": "ann\u0000", "password": "correct horse battery", "provider": "db"},
    )

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
