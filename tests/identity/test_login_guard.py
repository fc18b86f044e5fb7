"""Login limits (issue 11 F1): repeated wrong passwords make every login path wait, per
address first; the wait ends by itself; the clock is injected, nothing sleeps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from metacrm.identity.login_guard import LoginGuard, LoginLimits, create_login_failure_table
from web_harness import PASSWORD, Web, open_web

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


class Clock:
    """A settable UTC clock for the login guard."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path, clock: Clock) -> Iterator[Web]:
    # FAB's own request limit on the JSON login is lifted, so only the login guard answers.
    with open_web(isolated_database_url, tmp_path, AUTH_RATE_LIMIT="100000 per second",
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        guard = web.identity.login_guard
        assert guard is not None
        guard.clock = clock
        web.create_user("ann", "clerk")
        yield web


def client_at(web: Web, address: str) -> FlaskClient:
    client = web.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def page_login(client: FlaskClient, password: str, username: str = "ann") -> TestResponse:
    page = client.get("/app/login").get_data(as_text=True)
    token = _CSRF.search(page)
    assert token is not None
    return client.post("/app/login", data={"csrf_token": token.group(1),
                                           "username": username, "password": password})


def api_login(client: FlaskClient, password: str, username: str = "ann") -> TestResponse:
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"})


def signed_in(client: FlaskClient) -> bool:
    return client.get("/app/").status_code == 200


def test_twenty_wrong_passwords_on_the_login_page_lock_out_even_the_right_one(
    web: Web, clock: Clock
) -> None:
    browser = client_at(web, "10.0.0.1")

    answers = [page_login(browser, f"guess {n}") for n in range(20)]

    assert [answer.status_code for answer in answers[:6]] == [401] * 6  # 5 free + 1 counted
    locked = answers[6:]
    assert {answer.status_code for answer in locked} == {429}
    assert all(int(answer.headers["Retry-After"]) >= 1 for answer in locked)
    assert "Too many failed sign-ins" in locked[-1].get_data(as_text=True)
    right = page_login(browser, PASSWORD)
    assert right.status_code == 429
    assert not signed_in(browser)

    clock.advance(int(right.headers["Retry-After"]))

    assert page_login(browser, PASSWORD).status_code == 302
    assert signed_in(browser)


def test_twenty_wrong_passwords_on_the_api_login_lock_out_even_the_right_one(
    web: Web, clock: Clock
) -> None:
    client = client_at(web, "10.0.0.1")

    answers = [api_login(client, f"guess {n}") for n in range(20)]

    assert [answer.status_code for answer in answers[:6]] == [401] * 6
    locked = answers[6:]
    assert {answer.status_code for answer in locked} == {429}
    assert locked[-1].mimetype == "application/problem+json"
    assert "too many failed logins" in locked[-1].get_json()["detail"]
    right = api_login(client, PASSWORD)
    assert right.status_code == 429
    wait = int(right.headers["Retry-After"])
    assert wait >= 1

    clock.advance(wait - 1)
    assert api_login(client, PASSWORD).status_code == 429  # not a second early
    clock.advance(1)

    accepted = api_login(client, PASSWORD)
    assert accepted.status_code == 200
    assert accepted.get_json()["access_token"]


def test_the_waits_grow_then_cap_at_the_lock(web: Web, clock: Clock) -> None:
    client = client_at(web, "10.0.0.1")
    guard = web.identity.login_guard
    assert guard is not None
    waits = []
    for n in range(16):
        assert api_login(client, f"guess {n}").status_code == 401
        wait = guard.wait_seconds("ann", "10.0.0.1")
        waits.append(wait)
        clock.advance(wait)

    assert waits[:5] == [0] * 5
    assert waits[5:11] == [1, 2, 4, 8, 16, 32]
    assert waits[-1] == 15 * 60  # the lock: never longer


def test_another_address_is_not_locked_by_the_first_ones_failures(web: Web) -> None:
    attacker, owner = client_at(web, "10.0.0.1"), client_at(web, "10.0.0.2")
    for n in range(20):
        page_login(attacker, f"guess {n}")
    assert page_login(attacker, PASSWORD).status_code == 429

    assert page_login(owner, PASSWORD).status_code == 302
    assert signed_in(owner)


def test_failures_from_many_addresses_lock_the_account_briefly(web: Web, clock: Clock) -> None:
    limits = LoginLimits()
    per_address = limits.pair_free + 1  # what an address may fail before it must wait
    failures, addresses = 0, 0
    while failures < limits.account_failures:
        addresses += 1
        client = client_at(web, f"10.0.1.{addresses}")
        for n in range(min(per_address, limits.account_failures - failures)):
            assert api_login(client, f"guess {n}").status_code == 401
            failures += 1
    assert addresses >= limits.account_addresses

    newcomer = client_at(web, "10.0.2.1")
    refused = api_login(newcomer, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) <= limits.account_lock.total_seconds()

    clock.advance(limits.account_lock.total_seconds())
    assert api_login(newcomer, PASSWORD).status_code == 200


def test_below_the_account_threshold_other_addresses_are_untouched(web: Web) -> None:
    for number in range(3):
        client = client_at(web, f"10.0.1.{number + 1}")
        for n in range(20):
            api_login(client, f"guess {n}")

    assert api_login(client_at(web, "10.0.2.1"), PASSWORD).status_code == 200


def test_fabs_login_form_is_no_way_around_the_limits(web: Web) -> None:
    client = client_at(web, "10.0.0.1")
    for n in range(20):
        api_login(client, f"guess {n}")

    response = client.post("/login/?next=/users/list/",
                           data={"username": "ann", "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/app/login?next=%2Fusers%2Flist%2F"
    assert not signed_in(client)


def test_unknown_names_are_counted_like_known_ones(web: Web) -> None:
    """Otherwise the answers would tell which login names exist."""
    client = client_at(web, "10.0.0.1")

    answers = [api_login(client, "x", username="nobody") for _ in range(8)]

    assert [answer.status_code for answer in answers] == [401] * 6 + [429] * 2


def test_a_success_forgets_that_addresss_failures(engine: sa.Engine, clock: Clock) -> None:
    with engine.begin() as connection:
        create_login_failure_table(connection)
    guard = LoginGuard(engine, clock=clock)
    for _ in range(5):
        guard.failed("Ann", "10.0.0.1")
    guard.succeeded("ann", "10.0.0.1")

    guard.failed("ann", "10.0.0.1")

    assert guard.wait_seconds("ANN ", "10.0.0.1") == 0  # one failure again, not six


def test_failures_are_forgotten_an_hour_after_the_last(engine: sa.Engine, clock: Clock) -> None:
    with engine.begin() as connection:
        create_login_failure_table(connection)
    guard = LoginGuard(engine, clock=clock)
    for _ in range(6):
        guard.failed("ann", "10.0.0.1")
    assert guard.wait_seconds("ann", "10.0.0.1") == 1

    clock.advance(3600)
    guard.failed("ann", "10.0.0.1")

    assert guard.wait_seconds("ann", "10.0.0.1") == 0
