"""Loaded users and verified personal tokens are reused for a few seconds per process: a
change made behind metacrm's back (another process, plain SQL) takes effect once the TTL
has passed (possibly not before); changes made through metacrm here take effect at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from metacrm.identity import token_store
from metacrm.identity.current import current_actor
from metacrm.identity.token_store import TokenInfo
from metacrm.identity.ttl_cache import TtlCache
from metacrm.identity.user_cache import UserCache
from web_harness import Web, bearer, open_web


class FakeClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Web]:
    with open_web(isolated_database_url, tmp_path) as web:
        probe = Blueprint("whoami", __name__)

        @probe.get("/api/v1/whoami")
        def whoami() -> ResponseReturnValue:
            actor = current_actor()
            return jsonify(None if actor is None else asdict(actor))

        web.app.register_blueprint(probe)
        web.identity.users = UserCache(ttl=5.0, clock=clock)
        verified: TtlCache[str, TokenInfo] = TtlCache(5.0, clock=clock)
        monkeypatch.setattr(token_store, "_verified", verified)
        yield web


def whoami(web: Web, credential: str) -> object:
    response = web.client.get("/api/v1/whoami", headers=bearer(credential))
    assert response.status_code == 200
    return response.get_json()


def token_for(web: Web, username: str) -> dict[str, str]:
    response = web.client.post("/api/v1/tokens", json={"name": "t"},
                               headers=bearer(web.login(username)))
    data: dict[str, str] = response.get_json()["data"]
    return data


def run_sql(web: Web, statement: str, **params: object) -> None:
    """A change made behind this process's back (as another process would)."""
    with web.identity.engine.begin() as connection:
        connection.execute(sa.text(statement), params)


def test_the_cache_forgets_entries_after_the_ttl(clock: FakeClock) -> None:
    cache: TtlCache[str, int] = TtlCache(5.0, clock=clock)
    cache.put("a", 1)

    clock.advance(4.9)
    assert cache.get("a") == 1
    clock.advance(0.1)
    assert cache.get("a") is None


def test_a_failed_lookup_is_never_remembered(clock: FakeClock) -> None:
    cache: TtlCache[str, int] = TtlCache(5.0, clock=clock)
    answers = iter([None, 7])

    assert cache.get_or_load("a", lambda: next(answers)) is None
    assert cache.get_or_load("a", lambda: next(answers)) == 7


def test_a_ttl_of_zero_caches_nothing(clock: FakeClock) -> None:
    cache: TtlCache[str, int] = TtlCache(0, clock=clock)
    cache.put("a", 1)

    assert cache.get("a") is None


def test_a_user_deactivated_elsewhere_is_refused_after_the_ttl(
    web: Web, clock: FakeClock
) -> None:
    ann = web.create_user("ann")
    jwt = web.login("ann")
    assert whoami(web, jwt) is not None

    run_sql(web, "UPDATE ab_user SET active = :no WHERE id = :id", no=False, id=ann.id)
    assert whoami(web, jwt) is not None  # still the cached identity, within the TTL
    clock.advance(5.0)

    assert whoami(web, jwt) is None


def test_roles_changed_elsewhere_apply_after_the_ttl(web: Web, clock: FakeClock) -> None:
    ann = web.create_user("ann", "clerk")
    jwt = web.login("ann")
    assert whoami(web, jwt)["roles"] == ["clerk"]  # type: ignore[index]

    run_sql(web, "UPDATE ab_user_role SET role_id = (SELECT id FROM ab_role WHERE name = "
            "'boss') WHERE user_id = :id", id=ann.id)
    clock.advance(5.0)

    assert whoami(web, jwt)["roles"] == ["boss"]  # type: ignore[index]


def test_a_token_revoked_by_another_process_stops_working_after_the_ttl(
    web: Web, clock: FakeClock
) -> None:
    web.create_user("ann")
    created = token_for(web, "ann")
    assert whoami(web, created["token"]) is not None

    run_sql(web, "DELETE FROM metacrm_api_tokens WHERE id = :id", id=created["id"])
    assert whoami(web, created["token"]) is not None  # still cached, within the TTL
    clock.advance(5.0)

    assert whoami(web, created["token"]) is None


def test_a_token_revoked_in_this_process_stops_working_at_once(web: Web) -> None:
    web.create_user("ann")
    created = token_for(web, "ann")
    assert whoami(web, created["token"]) is not None

    with web.identity.engine.begin() as connection:
        assert token_store.revoke_token(connection, created["id"])

    assert whoami(web, created["token"]) is None


def test_a_user_deactivated_through_flask_appbuilder_is_refused_at_once(web: Web) -> None:
    web.create_user("ann")
    jwt = web.login("ann")
    token = token_for(web, "ann")["token"]
    assert whoami(web, jwt) is not None and whoami(web, token) is not None

    web.set_active("ann", False)

    assert whoami(web, jwt) is None
    assert whoami(web, token) is None
