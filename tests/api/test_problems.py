"""Every error answer of the API is an RFC 9457 problem document; none leaks a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields
from sqlalchemy.exc import DataError

from metacrm.api.problems import json_body
from metacrm.kernel.errors import Conflict, ErrorDetail
from metacrm.settings import Settings
from web_harness import REDIS_URL, Web, bearer, open_web, require_redis

PROBLEM = "application/problem+json"


class Address(Schema):
    city = fields.String(required=True)


class Person(Schema):
    name = fields.String(required=True)
    address = fields.Nested(Address, required=True)


def probe_blueprint() -> Blueprint:
    """Routes that fail in each way a handler can."""
    probe = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    @probe.post("/echo")
    def echo() -> ResponseReturnValue:
        return jsonify(json_body())

    @probe.get("/conflict")
    def conflict() -> ResponseReturnValue:
        raise Conflict("the title is taken", [ErrorDetail("already used", "/title")])

    @probe.post("/person")
    def person() -> ResponseReturnValue:
        return jsonify(Person().load(json_body()))

    @probe.get("/refused")
    def refused() -> ResponseReturnValue:
        raise DataError("INSERT ...", {}, ValueError("integer out of range\nLINE 1: ..."))

    @probe.get("/crash")
    def crash() -> ResponseReturnValue:
        raise RuntimeError("password=hunter2 in some internal state")

    return probe


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    with open_web(isolated_database_url, tmp_path) as web:
        web.app.register_blueprint(probe_blueprint())
        yield web


def assert_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.mimetype == PROBLEM  # type: ignore[attr-defined]
    document: dict[str, object] = response.get_json()  # type: ignore[attr-defined]
    assert document["status"] == status
    assert {"type", "title", "status", "detail", "errors"} <= set(document)
    return document


def test_unknown_route_is_a_404_problem(web: Web) -> None:
    document = assert_problem(web.client.get("/api/v1/no-such-thing"), 404)

    assert "/api/v1/no-such-thing" in str(document["detail"])


def test_wrong_method_is_a_405_problem_naming_the_allowed_ones(web: Web) -> None:
    response = web.client.put("/api/v1/tokens")

    document = assert_problem(response, 405)
    assert "GET" in str(document["detail"])
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_a_400_problem(web: Web) -> None:
    response = web.client.post("/api/v1/probe/echo", data='{"name": ',
                               content_type="application/json")

    document = assert_problem(response, 400)
    assert "not valid JSON" in str(document["detail"])


@pytest.mark.parametrize("body", ["NaN", "[Infinity]", b"\xff\xfe{", "{" * 100_000])
def test_json_that_is_not_json_is_a_400_problem(web: Web, body: str | bytes) -> None:
    response = web.client.post("/api/v1/probe/echo", data=body, content_type="application/json")

    assert_problem(response, 400)


def test_a_body_that_is_not_declared_json_is_a_415_problem(web: Web) -> None:
    response = web.client.post("/api/v1/probe/echo", data="{}", content_type="text/plain")

    assert_problem(response, 415)


def test_malformed_json_to_the_login_api_is_a_problem(web: Web) -> None:
    response = web.client.post("/api/v1/security/login", data="{oops",
                               content_type="application/json")

    assert_problem(response, 400)


def test_login_payload_errors_point_at_the_field(web: Web) -> None:
    response = web.client.post("/api/v1/security/login", json={"username": "ann"})

    document = assert_problem(response, 400)
    assert "/password" in [error["pointer"] for error in document["errors"]]  # type: ignore[attr-defined]


def test_a_metacrm_error_keeps_its_status_and_pointers(web: Web) -> None:
    document = assert_problem(web.client.get("/api/v1/probe/conflict"), 409)

    assert document["detail"] == "the title is taken"
    assert document["errors"] == [{"pointer": "/title", "message": "already used"}]


def test_marshmallow_errors_become_422_with_nested_pointers(web: Web) -> None:
    response = web.client.post("/api/v1/probe/person", json={"address": {}, "age": 3})

    document = assert_problem(response, 422)
    pointers = {error["pointer"] for error in document["errors"]}  # type: ignore[attr-defined]
    assert pointers == {"/name", "/address/city", "/age"}


def test_a_value_the_database_refuses_is_a_400_problem(web: Web) -> None:
    document = assert_problem(web.client.get("/api/v1/probe/refused"), 400)

    assert document["detail"] == (
        "the database refused a value of the request: integer out of range"
    )


def test_an_unexpected_error_is_a_500_problem_without_internals(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="metacrm.api.problems"):
        response = web.client.get("/api/v1/probe/crash")

    document = assert_problem(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    incident = str(document["instance"]).removeprefix("urn:uuid:")
    assert incident in str(document["detail"])
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_browsers_keep_html_error_pages_outside_the_api(web: Web) -> None:
    response = web.client.get("/no-such-page", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_api_clients_get_problems_outside_the_api_too(web: Web) -> None:
    response = web.client.get("/no-such-page", headers={"Accept": "application/json"})

    assert_problem(response, 404)


def tiny_limit_web(database_url: str, root: Path, **settings: object) -> Iterator[Web]:
    with open_web(database_url, root, settings_changes={"rate_limit": "2 per minute",
                                                        **settings}) as web:
        yield web


@pytest.fixture
def limited(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    yield from tiny_limit_web(isolated_database_url, tmp_path)


def test_exceeding_the_rate_limit_is_a_429_problem_with_retry_after(limited: Web) -> None:
    for _ in range(2):
        assert limited.client.get("/api/v1/tokens").status_code == 401

    response = limited.client.get("/api/v1/tokens")

    document = assert_problem(response, 429)
    assert "2 per 1 minute" in str(document["detail"])
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_each_user_has_their_own_budget(limited: Web) -> None:
    limited.create_user("ann")
    limited.create_user("bob")
    ann, bob = limited.login("ann"), limited.login("bob")  # the address's 2 requests
    for _ in range(2):
        assert limited.client.get("/api/v1/tokens", headers=bearer(ann)).status_code == 200

    assert limited.client.get("/api/v1/tokens", headers=bearer(ann)).status_code == 429
    assert limited.client.get("/api/v1/tokens", headers=bearer(bob)).status_code == 200
    assert limited.client.get("/api/v1/tokens").status_code == 429  # anonymous: the address


def test_limits_are_counted_in_redis_when_it_is_configured(
    isolated_database_url: str, tmp_path: Path
) -> None:
    client = require_redis()
    prefix = f"metacrm-test-{uuid.uuid4().hex}"
    settings = {"redis_url": REDIS_URL, "rate_limit": "2 per minute"}
    with open_web(isolated_database_url, tmp_path / "a", settings_changes=settings,
                  RATELIMIT_KEY_PREFIX=prefix) as first:
        for _ in range(2):
            assert first.client.get("/api/v1/tokens").status_code == 401
        # A second process (app) sharing the Redis store sees the same count.
        with open_web(isolated_database_url, tmp_path / "b", roles=(),
                      settings_changes=settings, RATELIMIT_KEY_PREFIX=prefix) as second:
            assert_problem(second.client.get("/api/v1/tokens"), 429)
    keys = list(client.scan_iter(f"*{prefix}*"))
    if keys:
        client.delete(*keys)


def test_an_invalid_rate_limit_setting_stops_the_app_from_starting(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with (
        pytest.raises(ValueError, match="METACRM_RATE_LIMIT"),
        open_web(isolated_database_url, tmp_path, settings_changes={"rate_limit": "lots"}),
    ):
        pass


def test_the_app_factory_reads_no_environment(
    isolated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METACRM_RATE_LIMIT", "not a limit")
    monkeypatch.setenv("METACRM_DATABASE_URL", "postgresql+psycopg://nobody@0.0.0.0:1/none")

    with open_web(isolated_database_url, tmp_path) as web:
        assert isinstance(web.app, Flask)
        assert web.client.get("/api/v1/tokens").status_code == 401


def test_fab_apis_answer_a_malformed_jwt_with_a_401_problem(web: Web) -> None:
    response = web.client.get("/api/v1/security/users/", headers=bearer("not-a-jwt"))

    document = assert_problem(response, 401)
    assert "not valid" in str(document["detail"])


def test_an_oversized_body_is_a_413_problem(isolated_database_url: str, tmp_path: Path) -> None:
    with open_web(isolated_database_url, tmp_path, MAX_CONTENT_LENGTH=64) as web:
        web.app.register_blueprint(probe_blueprint())
        response = web.client.post("/api/v1/probe/echo", json={"text": "x" * 100})

    assert_problem(response, 413)


def test_settings_read_the_rate_limit_and_first_admin_from_the_environment() -> None:
    settings = Settings.from_env({
        "METACRM_RATE_LIMIT": "5 per second",
        "METACRM_ADMIN_USER": "root",
        "METACRM_ADMIN_PASSWORD": "do-not-print-me",
    })

    assert (settings.rate_limit, settings.admin_user) == ("5 per second", "root")
    assert settings.admin_password == "do-not-print-me"
    assert "do-not-print-me" not in repr(settings)
    assert Settings.from_env({}).rate_limit == "600 per minute"
