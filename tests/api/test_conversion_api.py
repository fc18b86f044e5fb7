"""POST /api/v1/records/<entity>/<id>/convert end to end: the app built by `create_app`, real
users and tokens, problem documents, ETags, idempotent retries — and the shipped sales pack's
lead conversion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, pointers, problem
from openapi_spec_validator import validate

from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH
from web_harness import role

EVERYTHING = {"read": "all", "create": "all", "update": "all", "delete": "all"}

DOCUMENTS: list[dict[str, Any]] = [
    entity("company", field("name", "text", required=True, indexed=True)),
    entity("person", field("last_name", "text", required=True),
           field("email", "email", unique=True),
           field("company", "reference", entity="company")),
    entity("deal", field("title", "text", required=True),
           field("company", "reference", entity="company", required=True),
           field("contact", "reference", entity="person")),
    entity("lead", field("last_name", "text", required=True), field("company_name", "text"),
           field("email", "email"), field("status", "state", pipeline="lead_flow")),
    {"kind": "pipeline", "name": "lead_flow", "version": 1, "label": labels("Lead flow"),
     "entity": "lead",
     "states": [{"name": "new", "label": labels("New")},
                {"name": "converted", "label": labels("Converted"), "category": "won",
                 "locked": True}],
     "transitions": [{"name": "convert", "label": labels("Convert"), "from": ["new"],
                      "to": "converted"}]},
    {"kind": "conversion", "name": "lead_conversion", "version": 1,
     "label": labels("Convert"), "source": "lead", "transition": "convert",
     "targets": [
         {"name": "company", "entity": "company", "optional": True, "match": [["name"]],
          "fields": {"name": "company_name"}},
         {"name": "person", "entity": "person", "match": [["email"]],
          "fields": {"last_name": "last_name", "email": "email"},
          "links": {"company": "company"}},
         {"name": "deal", "entity": "deal", "optional": True,
          "fields": {"title": "company_name"},
          "links": {"company": "company", "contact": "person"}}]},
    ADMIN_ROLE,
    role("clerk", entities={name: EVERYTHING for name in ("lead", "company", "person", "deal")},
         transitions={"lead_flow": ["convert"]}),
    role("no_deals", entities={**{name: EVERYTHING for name in ("lead", "company", "person")},
                               "deal": {"read": "all"}},
         transitions={"lead_flow": ["convert"]}),
]


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, *DOCUMENTS) as api:
        yield api


def new_lead(api: Api, **values: Any) -> dict[str, Any]:
    body = {"last_name": "Lee", "company_name": "Acme", "email": "ann@acme.example", **values}
    response = api.client.post("/api/v1/records/lead", json=body, headers=api.clerk)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def convert(api: Api, lead_id: str, body: Any = None, **headers: str) -> Any:
    return api.client.post(f"/api/v1/records/lead/{lead_id}/convert", json=body,
                           headers={**api.clerk, **headers})


def count(api: Api, entity_name: str) -> int:
    response = api.client.get(f"/api/v1/records/{entity_name}", headers=api.admin)
    assert response.status_code == 200, response.get_json()
    value: int = response.get_json()["meta"]["count"]
    return value


def counts(api: Api) -> dict[str, int]:
    return {name: count(api, name) for name in ("company", "person", "deal")}


def test_a_lead_converts_in_one_request(api: Api) -> None:
    lead = new_lead(api)

    response = convert(api, lead["id"])

    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert data["record"]["status"] == "converted"
    assert response.headers["ETag"] == f'"{lead["id"]}:{data["record"]["version"]}"'
    targets = data["targets"]
    assert {name: (t["action"], t["entity"]) for name, t in targets.items()} == {
        "company": ("created", "company"), "person": ("created", "person"),
        "deal": ("created", "deal")}
    person = api.client.get(f"/api/v1/records/person/{targets['person']['record']['id']}",
                            headers=api.admin).get_json()["data"]
    assert person["company"] == targets["company"]["record"]["id"]
    assert counts(api) == {"company": 1, "person": 1, "deal": 1}


def test_existing_records_are_matched_and_targets_skipped(api: Api) -> None:
    existing = api.client.post("/api/v1/records/person", headers=api.admin, json={
        "last_name": "Lee", "email": "ANN@acme.example"}).get_json()["data"]
    lead = new_lead(api)

    response = convert(api, lead["id"], {"targets": {"company": {"skip": True},
                                                     "deal": {"skip": True}}})

    assert response.status_code == 200, response.get_json()
    targets = response.get_json()["data"]["targets"]
    assert targets["person"]["action"] == "matched"
    assert targets["person"]["record"]["id"] == existing["id"]
    assert [targets[n]["action"] for n in ("company", "deal")] == ["skipped", "skipped"]
    assert counts(api) == {"company": 0, "person": 1, "deal": 0}


def test_the_bare_transition_is_refused_and_names_the_convert_endpoint(api: Api) -> None:
    lead = new_lead(api)
    url = f"/api/v1/records/lead/{lead['id']}"

    listed = api.client.get(f"{url}/transitions", headers=api.clerk).get_json()
    refused = api.client.post(f"{url}/transitions/convert", headers=api.clerk)

    assert [(t["name"], t["conversion"]) for t in listed["transitions"]] == [
        ("convert", "lead_conversion")]
    body = problem(refused, 409)
    assert body["convert"] == {"method": "POST", "href": f"{url}/convert",
                               "conversion": "lead_conversion"}
    assert f"POST {url}/convert" in body["detail"]
    assert api.client.get(url, headers=api.clerk).get_json()["data"]["status"] == "new"
    assert counts(api) == {"company": 0, "person": 0, "deal": 0}
    assert convert(api, lead["id"]).status_code == 200


def test_a_required_target_cannot_be_skipped(api: Api) -> None:
    lead = new_lead(api)

    document = problem(convert(api, lead["id"], {"targets": {"person": {"skip": True}}}), 422)

    assert pointers(document) == {"/targets/person/skip"}
    assert counts(api) == {"company": 0, "person": 0, "deal": 0}


def test_a_failing_deal_rolls_back_the_company_and_the_person(api: Api) -> None:
    lead = new_lead(api)

    document = problem(convert(api, lead["id"], {"targets": {"deal": {"values": {
        "title": None}}}}), 422)

    assert pointers(document) == {"/targets/deal/title"}
    assert counts(api) == {"company": 0, "person": 0, "deal": 0}
    again = api.client.get(f"/api/v1/records/lead/{lead['id']}", headers=api.clerk)
    assert again.get_json()["data"] == lead


def test_converting_twice_is_a_conflict(api: Api) -> None:
    lead = new_lead(api)
    assert convert(api, lead["id"]).status_code == 200

    document = problem(convert(api, lead["id"]), 409)

    assert pointers(document) == {"/record/status"}
    assert counts(api) == {"company": 1, "person": 1, "deal": 1}


def test_without_create_rights_on_deals_nothing_is_created(api: Api) -> None:
    lead = new_lead(api)
    headers = api.user("nick", "no_deals")

    response = api.client.post(f"/api/v1/records/lead/{lead['id']}/convert", headers=headers)

    assert pointers(problem(response, 403)) == {"/targets/deal"}
    assert counts(api) == {"company": 0, "person": 0, "deal": 0}


def test_if_match_must_name_the_current_version(api: Api) -> None:
    lead = new_lead(api)
    changed = api.client.patch(f"/api/v1/records/lead/{lead['id']}", headers=api.clerk,
                               json={"company_name": "Acme Inc"})
    assert changed.status_code == 200

    problem(convert(api, lead["id"], None, **{"If-Match": f'"{lead["id"]}:1"'}), 412)
    response = convert(api, lead["id"], None, **{"If-Match": changed.headers["ETag"]})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["targets"]["company"]["record"]["name"] == "Acme Inc"


def test_a_retry_with_the_same_idempotency_key_replays_the_answer(api: Api) -> None:
    lead = new_lead(api)
    key = {"Idempotency-Key": "convert-lead-1"}

    first = convert(api, lead["id"], {}, **key)
    second = convert(api, lead["id"], {}, **key)

    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    assert counts(api) == {"company": 1, "person": 1, "deal": 1}


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/records/nothing/1/convert", 404),
    ("/api/v1/records/company/1/convert", 404),
    ("/api/v1/records/lead/no-such-lead/convert", 404),
])
def test_what_cannot_be_converted_is_not_found(api: Api, path: str, status: int) -> None:
    problem(api.client.post(path, headers=api.clerk), status)


def test_malformed_bodies_are_problem_documents(api: Api) -> None:
    lead = new_lead(api)
    url = f"/api/v1/records/lead/{lead['id']}/convert"

    problem(api.client.post(url, data="{", headers={**api.clerk,
                                                     "Content-Type": "application/json"}), 400)
    problem(api.client.post(url, data="x", headers={**api.clerk,
                                                     "Content-Type": "text/plain"}), 415)
    assert pointers(problem(convert(api, lead["id"], {"targets": {"deal": 1}}), 422)) == {
        "/targets/deal"}


def test_the_openapi_document_describes_the_conversion(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json", headers=api.clerk).get_json()
    validate(document)
    operation = document["paths"]["/api/v1/records/lead/{id}/convert"]["post"]
    assert {"200", "403", "409", "412", "422"} <= set(operation["responses"])
    assert "/api/v1/records/company/{id}/convert" not in document["paths"]
    lead = new_lead(api)
    body = {"targets": {"deal": {"skip": True}}}

    answer = convert(api, lead["id"], body).get_json()

    for name, value in (("lead.convert", body), ("lead.conversion", answer)):
        jsonschema.validate(value, {"$ref": f"#/components/schemas/{name}",
                                    "components": document["components"]},
                            cls=jsonschema.Draft202012Validator)


def test_the_shipped_lead_conversion_works(isolated_database_url: str, tmp_path: Path) -> None:
    shipped = [dict(d.body) for d in load_documents([DEFAULT_METADATA_PATH])]
    with open_api(isolated_database_url, tmp_path, *shipped, ADMIN_ROLE,
                  role("clerk")) as api:
        rep = api.user("rita", "sales_rep")
        lead = api.client.post("/api/v1/records/lead", headers=rep, json={
            "first_name": "Ann", "last_name": "Lee", "company_name": "Acme",
            "email": "ann@acme.example", "website": "https://acme.example",
            "estimated_value": {"amount": "5000", "currency": "USD"}}).get_json()["data"]

        response = api.client.post(f"/api/v1/records/lead/{lead['id']}/convert",
                                   headers=rep)

        assert response.status_code == 200, response.get_json()
        data = response.get_json()["data"]
        deal = data["targets"]["deal"]["record"]
        person = data["targets"]["person"]["record"]
        assert (deal["title"], deal["amount"]) == ("Acme", {"amount": "5000.00",
                                                            "currency": "USD"})
        assert (deal["company"], deal["contact"]) == (data["targets"]["company"]["record"]["id"],
                                                      person["id"])
        assert deal["stage"] is not None
        assert data["record"]["status"] == "converted"
        assert data["record"]["converted_person"] == person["id"]
        offered = api.client.get(f"/api/v1/records/lead/{lead['id']}/transitions",
                                 headers=rep).get_json()["transitions"]
        assert offered == []  # a converted lead is closed: not even "disqualify"
