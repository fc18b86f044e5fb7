"""The OpenAPI document and the server agree on what is valid (issue 11: schemathesis found
values the document allowed and the server refused, and the reverse). Each example is
judged twice — by the served document's own schema and by the server — and the verdicts
must match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, GADGET, Api, entity, field, open_api
from jsonschema import Draft202012Validator

from metacrm.criteria.tree import MAX_LIST_VALUES, MAX_NODES
from web_harness import role

MAKER = entity("maker", field("name", "text", required=True, indexed=True))
GADGET_WITH_MAKER = {**GADGET, "fields": [*GADGET["fields"],
                                          field("maker", "reference", entity="maker")]}
URL = "/api/v1/records/gadget"
UNITS_GT_5 = {"field": "units", "op": "gt", "value": 5}


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, ADMIN_ROLE, role("clerk")) as api:
        api.put_meta(MAKER)
        api.put_meta(GADGET_WITH_MAKER)
        yield api


def document_allows(document: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether `value` is valid for `schema` (which may refer into `document`)."""
    rooted = {**schema, "components": document["components"]}
    return Draft202012Validator(rooted).is_valid(value)


def served(api: Api) -> dict[str, Any]:
    response = api.client.get("/api/v1/openapi.json", headers=api.admin)
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    item = document["paths"][path]
    found = [p for p in (*item.get("parameters", ()), *item[method].get("parameters", ()))
             if p["name"] == name]
    (one,) = found
    return one


CRITERIA: list[tuple[str, Any, bool]] = [
    ("a comparison the field supports", UNITS_GT_5, True),
    ("a user column compared with lt", {"field": "created_by", "op": "lt", "value": "1"}, False),
    ("a blank text value", {"field": "title", "op": "eq", "value": "  "}, False),
    ("a separator the server strips as blank (U+001C)",
     {"field": "title", "op": "eq", "value": "\x1c\x85"}, False),
    ("a NUL in a text value", {"field": "title", "op": "contains", "value": "a\x00"}, False),
    ("a picklist value that is not a choice",
     {"field": "colour", "op": "eq", "value": "green"}, False),
    ("a choice of the picklist", {"field": "colour", "op": "in", "value": ["red"]}, True),
    ("an unknown field", {"field": "wings", "op": "eq", "value": 1}, False),
    ("a variable's name as a text value", {"field": "title", "op": "in", "value": ["$today"]},
     False),
    ("a variable where the field takes it", {"field": "made_on", "op": "lt", "value": "$today"},
     True),
    ("an in over the budget",
     {"field": "units", "op": "in", "value": list(range(MAX_LIST_VALUES + 1))}, False),
    ("an or over the budget", {"or": [UNITS_GT_5] * MAX_NODES}, False),
    ("nested and/or/not", {"and": [{"not": UNITS_GT_5}, {"or": [UNITS_GT_5]}]}, True),
]


@pytest.mark.parametrize(("case", "tree", "valid"), CRITERIA, ids=[c[0] for c in CRITERIA])
def test_criteria_the_document_allows_are_the_ones_the_server_takes(
    api: Api, case: str, tree: Any, valid: bool
) -> None:
    document = served(api)
    query_body = {"$ref": "#/components/schemas/gadget.query"}
    assert document_allows(document, query_body, {"filter": tree}) is valid, case
    answer = api.client.post(f"{URL}/query", json={"filter": tree}, headers=api.admin)
    assert answer.status_code == (200 if valid else 422), answer.get_json()
    filter_parameter = parameter(document, URL, "get", "filter")
    schema = filter_parameter["content"]["application/json"]["schema"]
    assert document_allows(document, schema, tree) is valid, case


IF_MATCH: list[tuple[str, bool]] = [
    ('"0190f1a2-0000-7000-8000-000000000000:1"', True),
    ('W/"a:1", "b:2"', True),
    ("*", True),
    ("v1", False),
    ('"unterminated', False),
]


@pytest.mark.parametrize(("header", "valid"), IF_MATCH)
def test_if_match_syntax_is_what_the_document_says(api: Api, header: str, valid: bool) -> None:
    document = served(api)
    schema = parameter(document, f"{URL}/{{id}}", "patch", "If-Match")["schema"]
    assert document_allows(document, schema, header) is valid
    created = api.client.post(URL, json={"title": "Lamp"}, headers=api.admin).get_json()
    answer = api.client.patch(f"{URL}/{created['data']['id']}", json={"units": 1},
                              headers={**api.admin, "If-Match": header})
    assert (answer.status_code != 422) is valid, answer.get_json()


def test_record_ids_and_event_ids_are_uuids_in_the_document(api: Api) -> None:
    document = served(api)
    record_id = parameter(document, f"{URL}/{{id}}", "get", "id")["schema"]
    assert document_allows(document, record_id, "0190f1a2-0000-7000-8000-000000000000")
    assert not document_allows(document, record_id, "no-such-id")
    event_id = parameter(document, "/api/v1/webhooks/{webhook_id}/deliveries", "get",
                         "event_id")["schema"]
    assert not document_allows(document, event_id, "not-an-event")


def test_duplicate_includes_are_refused_by_both(api: Api) -> None:
    document = served(api)
    include = parameter(document, URL, "get", "include")["schema"]
    assert not document_allows(document, include, ["maker", "maker"])
    answer = api.client.get(f"{URL}?include=maker,maker", headers=api.admin)
    assert answer.status_code == 422


def test_url_values_refuse_quotes_and_angle_brackets_in_both(
    isolated_database_url: str, tmp_path: Path
) -> None:
    site = entity("site", field("home", "url"))
    with open_api(isolated_database_url, tmp_path, ADMIN_ROLE, role("clerk")) as api:
        api.put_meta(site)
        document = served(api)
        schema = {"$ref": "#/components/schemas/site.create"}
        for value, valid in (("https://example.com/a?b=c", True),
                             ('https://example.com/"x', False),
                             ("https://example.com/<b>", False),
                             ("https://exa mple.com", False)):
            assert document_allows(document, schema, {"home": value}) is valid, value
            answer = api.client.post("/api/v1/records/site", json={"home": value},
                                     headers=api.admin)
            assert answer.status_code == (201 if valid else 422), answer.get_json()
