"""The mechanism that marks an API operation or response shape deprecated: the answers
carry Deprecation, Sunset and Link headers; OpenAPI says `deprecated: true`."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, Response, jsonify
from openapi_spec_validator import validate

from metacrm.api.deprecation import (
    DEPRECATION_HEADERS,
    announce,
    deprecated,
    deprecated_operation,
)
from metacrm.api.openapi_paths import errors, json_answer
from metacrm.kernel.deprecation import Deprecation

OLD_SEARCH = Deprecation(datetime(2026, 12, 7, tzinfo=UTC), datetime(2027, 7, 1, tzinfo=UTC),
                         "https://metacrm.dev/docs/api.html#contract-versioning")


def _app() -> Flask:
    app = Flask(__name__)

    @app.get("/old-search")
    @deprecated(OLD_SEARCH)
    def old_search() -> tuple[dict[str, list[str]], int]:
        return {"data": []}, 200

    @app.get("/paged")
    def paged() -> Response:
        response = jsonify({"data": []})
        response.headers["Link"] = '</paged?cursor=x>; rel="next"'
        return announce(response, OLD_SEARCH)

    @app.get("/current")
    def current() -> Response:
        return jsonify({"data": []})

    return app


def test_every_answer_of_a_deprecated_operation_carries_the_headers() -> None:
    client = _app().test_client()
    answer = client.get("/old-search")
    assert answer.status_code == 200 and answer.get_json() == {"data": []}
    assert answer.headers["Deprecation"] == f"@{int(OLD_SEARCH.since.timestamp())}"
    assert answer.headers["Sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert answer.headers["Link"] == (f'<{OLD_SEARCH.link}>; rel="deprecation"; '
                                      'type="text/html"')
    assert "Deprecation" not in client.get("/current").headers


def test_announcing_keeps_the_links_an_answer_already_has() -> None:
    answer = _app().test_client().get("/paged")
    assert answer.headers.getlist("Link") == [
        '</paged?cursor=x>; rel="next"',
        f'<{OLD_SEARCH.link}>; rel="deprecation"; type="text/html"']


def test_openapi_marks_the_operation_and_documents_the_headers_on_its_answers() -> None:
    operation = {"operationId": "old_search", "summary": "Search the old way",
                 "responses": {"200": json_answer("Found.", {"type": "object"}),
                               **errors("401", "422")}}
    marked = deprecated_operation(operation, OLD_SEARCH)
    assert marked["deprecated"] is True
    assert marked["responses"]["200"]["headers"] == DEPRECATION_HEADERS
    assert marked["responses"]["401"] == {"$ref": "#/components/responses/Problem401"}
    assert "served until 2027-07-01" in marked["description"]
    assert "deprecated" not in operation, "the original operation is left as it was"
    validate({
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/old-search": {"get": {**marked, "responses": {
            "200": marked["responses"]["200"]}}}},
    })
