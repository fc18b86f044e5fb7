"""Duplicate rules through the records API: a block rule refuses a duplicate with 409 naming
only the matches the caller may read, a warn rule lets the save through with the matches,
keys follow updates, the duplicates endpoint, the pre-check and the scan — and fuzzy
company names on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, problem

from web_harness import role

EVERYTHING = {"read": "all", "create": "all", "update": "all", "delete": "all"}
OWN = {"read": "own", "create": "all", "update": "own", "delete": "own"}


def rule(name: str, entity_name: str, *conditions: dict[str, Any], **extra: Any
         ) -> dict[str, Any]:
    return {"kind": "duplicate_rule", "name": name, "version": 1, "label": labels(name),
            "entity": entity_name, "conditions": list(conditions), **extra}


DOCUMENTS: list[dict[str, Any]] = [
    entity("person", field("last_name", "text", required=True), field("email", "email"),
           field("phone", "phone", default_region="US"), title="{last_name}"),
    entity("company", field("name", "text", required=True), title="{name}"),
    rule("person_by_email", "person", {"field": "email", "normalise": ["email"]},
         action="block"),
    rule("person_by_phone", "person", {"field": "phone", "normalise": ["phone"]},
         action="warn", on=["create"]),
    rule("company_by_name", "company",
         {"field": "name", "normalise": ["legal_form", "transliterate"], "match": "fuzzy",
          "threshold": 0.5}),
    entity("lead", field("last_name", "text", required=True), field("email", "email"),
           field("status", "state", pipeline="lead_flow")),
    {"kind": "pipeline", "name": "lead_flow", "version": 1, "label": labels("Lead flow"),
     "entity": "lead",
     "states": [{"name": "new", "label": labels("New")},
                {"name": "converted", "label": labels("Converted"), "category": "won"}],
     "transitions": [{"name": "convert", "label": labels("Convert"), "from": ["new"],
                      "to": "converted"}]},
    {"kind": "conversion", "name": "lead_conversion", "version": 1,
     "label": labels("Convert"), "source": "lead", "transition": "convert",
     "targets": [{"name": "person", "entity": "person",
                  "fields": {"last_name": "last_name", "email": "email"}}]},
    ADMIN_ROLE,
    role("clerk", entities={"person": OWN, "company": EVERYTHING, "lead": EVERYTHING},
         transitions={"lead_flow": ["convert"]}),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    import os

    from database_harness import postgres_schema, schema_url

    root = tmp_path_factory.mktemp("duplicates")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, \
                open_api(schema_url(url, schema), root, *DOCUMENTS) as api:
            yield api
    else:
        with open_api(url, root, *DOCUMENTS) as api:
            yield api


def create(api: Api, entity_name: str, headers: dict[str, str], **values: Any) -> Any:
    return api.client.post(f"/api/v1/records/{entity_name}", json=values, headers=headers)


def created(api: Api, entity_name: str, headers: dict[str, str], **values: Any
            ) -> dict[str, Any]:
    response = create(api, entity_name, headers, **values)
    assert response.status_code == 201, response.get_json()
    document: dict[str, Any] = response.get_json()
    return document


def test_a_block_rule_refuses_a_duplicate_email_naming_the_readable_match(api: Api) -> None:
    first = created(api, "person", api.clerk, last_name="Lee", email="Lee@Block.example")

    response = create(api, "person", api.clerk, last_name="Lee 2", email=" lee@block.EXAMPLE")

    document = problem(response, 409)
    assert document["duplicates"] == [{"rule": "person_by_email", "action": "block",
                                       "id": first["data"]["id"], "title": "Lee"}]
    assert document["hidden_duplicates"] == 0
    assert api.client.get("/api/v1/records/person?filter[last_name]=Lee 2",
                          headers=api.admin).get_json()["meta"]["count"] == 0


def test_a_blocked_duplicate_outside_the_scope_is_reported_without_id(api: Api) -> None:
    created(api, "person", api.admin, last_name="Secret", email="secret@block.example")

    response = create(api, "person", api.clerk, last_name="Mine", email="secret@block.example")

    document = problem(response, 409)
    assert document["duplicates"] == []
    assert document["hidden_duplicates"] == 1
    assert [e["message"] for e in document["errors"]] == [
        "a duplicate exists that you cannot see"]
    assert "Secret" not in response.get_data(as_text=True)


def test_an_update_into_a_duplicate_is_blocked_and_an_unrelated_one_is_not(api: Api) -> None:
    created(api, "person", api.clerk, last_name="One", email="one@update.example")
    other = created(api, "person", api.clerk, last_name="Two", email="two@update.example")
    url = f"/api/v1/records/person/{other['data']['id']}"

    problem(api.client.patch(url, json={"email": "ONE@update.example"}, headers=api.clerk),
            409)
    renamed = api.client.patch(url, json={"last_name": "Second"}, headers=api.clerk)

    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["data"]["email"] == "two@update.example"


def test_a_warn_rule_saves_and_returns_the_matches(api: Api) -> None:
    first = created(api, "person", api.clerk, last_name="Phone", phone="+1 415 555 2671")

    second = created(api, "person", api.clerk, last_name="Phone 2", phone="(415) 555-2671")

    assert second["meta"]["duplicates"] == [{"rule": "person_by_phone", "action": "warn",
                                             "id": first["data"]["id"], "title": "Phone"}]
    assert "_duplicates" not in second["data"]
    listed = api.client.get(f"/api/v1/records/person/{first['data']['id']}/duplicates",
                            headers=api.clerk)
    assert listed.status_code == 200, listed.get_json()
    assert [m["id"] for m in listed.get_json()["data"]] == [second["data"]["id"]]


def test_the_duplicates_endpoint_never_names_records_outside_the_scope(api: Api) -> None:
    mine = created(api, "person", api.clerk, last_name="Shared", phone="+1 212 555 0100")
    theirs = created(api, "person", api.admin, last_name="Hidden", phone="+12125550100")

    as_clerk = api.client.get(f"/api/v1/records/person/{mine['data']['id']}/duplicates",
                              headers=api.clerk).get_json()
    as_admin = api.client.get(f"/api/v1/records/person/{mine['data']['id']}/duplicates",
                              headers=api.admin).get_json()
    of_theirs = api.client.get(f"/api/v1/records/person/{theirs['data']['id']}/duplicates",
                               headers=api.clerk)

    assert as_clerk == {"data": [], "meta": {"hidden_duplicates": 1, "blocked": False}}
    assert [m["id"] for m in as_admin["data"]] == [theirs["data"]["id"]]
    problem(of_theirs, 404)


def test_the_pre_check_answers_without_saving(api: Api) -> None:
    first = created(api, "person", api.clerk, last_name="Check", email="check@pre.example")

    response = api.client.post("/api/v1/records/person/duplicates/check",
                               json={"values": {"email": "CHECK@pre.example"}},
                               headers=api.clerk)
    unknown = api.client.post("/api/v1/records/person/duplicates/check",
                              json={"values": {"nope": 1}}, headers=api.clerk)

    assert response.get_json() == {
        "data": [{"rule": "person_by_email", "action": "block", "id": first["data"]["id"],
                  "title": "Check"}],
        "meta": {"hidden_duplicates": 0, "blocked": True}}
    assert problem(unknown, 422)["errors"][0]["pointer"] == "/nope"


def test_company_names_match_across_legal_forms_and_scripts(api: Api) -> None:
    first = created(api, "company", api.clerk, name="ООО «Яндекс»")

    latin = created(api, "company", api.clerk, name="Yandex LLC")

    assert [m["id"] for m in latin["meta"]["duplicates"]] == [first["data"]["id"]]


def test_the_scan_lists_groups_of_readable_duplicates(api: Api) -> None:
    a = created(api, "company", api.clerk, name="Scan Widgets GmbH")
    b = created(api, "company", api.clerk, name="scan widgets")

    response = api.client.get("/api/v1/records/company/duplicates/scan", headers=api.clerk)

    assert response.status_code == 200, response.get_json()
    groups = [g["ids"] for g in response.get_json()["data"]]
    assert [a["data"]["id"], b["data"]["id"]] in groups


def test_fuzzy_names_match_on_postgresql_only(api: Api) -> None:
    first = created(api, "company", api.clerk, name="Globex International Trading")

    near = created(api, "company", api.clerk, name="Globex Internatonal Trading Inc")

    found = [m["id"] for m in near.get("meta", {}).get("duplicates", [])]
    if _is_postgres(api):
        assert found == [first["data"]["id"]]
    else:
        assert found == []  # SQLite compares the keys exactly


def _is_postgres(api: Api) -> bool:
    from metacrm.api.context import api_services

    with api.web.app.app_context():
        return bool(api_services().engine.dialect.name == "postgresql")


def test_a_conversion_links_the_existing_duplicate_instead_of_creating(api: Api) -> None:
    person = created(api, "person", api.clerk, last_name="Known", email="known@convert.example")
    lead = created(api, "lead", api.clerk, last_name="Known lead", email="KNOWN@convert.example")

    response = api.client.post(f"/api/v1/records/lead/{lead['data']['id']}/convert",
                               json={}, headers=api.clerk)

    assert response.status_code == 200, response.get_json()
    target = response.get_json()["data"]["targets"]["person"]
    assert (target["action"], target["record"]["id"]) == ("matched", person["data"]["id"])


def test_a_scan_job_stores_the_groups_for_the_user_who_asked(api: Api) -> None:
    a = created(api, "company", api.clerk, name="Job Scan AG")
    b = created(api, "company", api.clerk, name="job scan")

    started = api.client.post("/api/v1/records/company/duplicates/scans", headers=api.clerk)

    assert started.status_code == 202, started.get_json()
    scan = started.get_json()["data"]
    read = api.client.get(f"/api/v1/records/company/duplicates/scans/{scan['id']}",
                          headers=api.clerk)
    assert read.status_code == 200
    assert read.get_json()["data"]["status"] == "done"  # the inline queue ran it
    assert [a["data"]["id"], b["data"]["id"]] in [g["ids"] for g in
                                                  read.get_json()["data"]["groups"]]
    other = api.client.get(f"/api/v1/records/company/duplicates/scans/{scan['id']}",
                           headers=api.admin)
    problem(other, 404)


def test_a_bulk_create_with_a_duplicate_inside_it_is_refused_whole(api: Api) -> None:
    response = api.client.post("/api/v1/records/person/bulk", headers=api.clerk, json={
        "records": [{"last_name": "Bulk 1", "email": "bulk@dup.example"},
                    {"last_name": "Bulk 2", "email": "BULK@dup.example"}]})

    document = problem(response, 409)
    assert {e["pointer"] for e in document["errors"]} == {"/records/1"}
    assert [d["title"] for d in document["duplicates"]] == ["Bulk 1"]
    listed = api.client.get("/api/v1/records/person?filter[email]=bulk@dup.example",
                            headers=api.admin).get_json()
    assert listed["meta"]["count"] == 0


def test_an_import_leaves_no_pending_trigram_entries_for_the_fuzzy_checks(api: Api) -> None:
    """A GIN index's pending list is scanned whole by every fuzzy check; an import flushes
    the one its rows filled (on PostgreSQL), so the next saves do not pay for it."""
    import sqlalchemy as sa
    from test_imports_api import started, upload

    names = "\n".join(f"Wonka Acme {n} Trading LLC" for n in range(300))
    data = started(upload(api, api.admin, f"name\n{names}\n".encode(), "firms.csv",
                          entity="company", mapping={"columns": {"name": "name"}}))
    status = api.client.get(f"/api/v1/imports/{data['id']}", headers=api.admin)
    assert status.get_json()["data"]["counts"]["created"] == 300
    if not _is_postgres(api):
        return  # no trigram index: SQLite matches fuzzy rules exactly
    with api.web.identity.engine.begin() as conn:
        indexes = conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexdef LIKE '%gin_trgm_ops%'")).scalars().all()
        pending = [conn.execute(sa.text("SELECT gin_clean_pending_list(to_regclass(:n))"),
                                {"n": name}).scalar_one() for name in indexes]
    assert len(indexes) == 1 and pending == [0]
