"""Flask-AppBuilder's user and role APIs refuse over-long values with a 422 pointing at the
member (issue 11, F7: a 130-character first name was a 500 on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from web_harness import PASSWORD, Web, bearer, open_web

USERS = "/api/v1/security/users/"


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    with open_web(isolated_database_url, tmp_path) as web:
        web.create_user("root", "boss")
        yield web


def role_id(web: Web, name: str) -> int:
    with web.app.app_context():
        return int(web.identity.appbuilder.sm.find_role(name).id)


def new_user(web: Web, **changes: Any) -> dict[str, Any]:
    return {"first_name": "Ann", "last_name": "Lee", "username": "ann",
            "email": "ann@example.com", "password": PASSWORD + "!A1",
            "roles": [role_id(web, "clerk")], "active": True, **changes}


def refused(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 422, (response.status_code, response.get_data(True))
    assert response.mimetype == "application/problem+json"
    return [(e["pointer"], e["message"]) for e in response.get_json()["errors"]]


@pytest.mark.parametrize(("member", "length", "limit"), [
    ("first_name", 130, 64), ("last_name", 65, 64), ("username", 200, 128),
    ("email", 400, 320),
])
def test_an_over_long_user_value_is_a_422_naming_the_member(
    web: Web, member: str, length: int, limit: int
) -> None:
    admin = bearer(web.login("root"))
    value = "a" * length if member != "email" else "a" * (length - 12) + "@example.com"
    response = web.client.post(USERS, json=new_user(web, **{member: value}), headers=admin)
    assert refused(response) == [(f"/{member}", f"is longer than {limit} characters")]


def test_an_over_long_value_in_a_user_update_is_a_422(web: Web) -> None:
    admin = bearer(web.login("root"))
    created = web.client.post(USERS, json=new_user(web), headers=admin)
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    response = web.client.put(f"{USERS}{user_id}", json={"first_name": "é" * 65},
                              headers=admin)
    assert refused(response) == [("/first_name", "is longer than 64 characters")]
    fine = web.client.put(f"{USERS}{user_id}", json={"first_name": "é" * 64}, headers=admin)
    assert fine.status_code == 200, fine.get_json()


def test_an_over_long_role_name_is_a_422(web: Web) -> None:
    admin = bearer(web.login("root"))
    response = web.client.post("/api/v1/security/roles/", json={"name": "r" * 65},
                               headers=admin)
    assert refused(response) == [("/name", "is longer than 64 characters")]


def test_an_anonymous_caller_is_refused_before_the_body_is_judged(web: Web) -> None:
    response = web.client.post(USERS, json=new_user(web, first_name="a" * 130))
    assert response.status_code == 401
