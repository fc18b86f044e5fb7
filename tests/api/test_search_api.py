"""Global search over the API: hits grouped by entity, ranked by the title the caller sees,
within the caller's read scope and field security; problem documents for bad requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, open_api, pointers, problem

from web_harness import role

URL = "/api/v1/search"
COMPANY = entity("company", field("name", required=True, indexed=True), field("note"),
                 title_field="name", search_fields=["name", "note"])
PERSON = entity("person", field("name", required=True), field("email"),
                field("company", "reference", entity="company"),
                title="{name} at {company}", search_fields=["name", "email"])
TAG = entity("tag", field("word"))
CLERK = role("clerk", entities={
    "person": {"read": "all", "fields": {"email": "hidden"}},
    "tag": {"read": "all"},
})


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, ADMIN_ROLE, role("clerk")) as api:
        for document in (COMPANY, PERSON, TAG, CLERK):
            api.put_meta(document)
        yield api


def create(api: Api, entity_name: str, **values: Any) -> str:
    response = api.client.post(f"/api/v1/records/{entity_name}", json=values,
                               headers=api.admin)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["data"]["id"])


def search(api: Api, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    response = api.client.get(URL, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    data: list[dict[str, Any]] = response.get_json()["data"]
    return data


def test_hits_rank_exact_then_prefix_then_substring_then_other_fields(api: Api) -> None:
    # created worst first, so the order cannot come from creation order
    for name, note in (("Zeta", "an acme reseller"), ("The Acme Shop", None),
                       ("Acme Corp", None), ("Acme", None), ("Unrelated", None)):
        create(api, "company", name=name, note=note)
    (group,) = search(api, api.admin, q="ACME")
    assert group["entity"] == "company"
    assert group["label"]["en"] == "company"
    assert [hit["title"] for hit in group["hits"]] == [
        "Acme", "Acme Corp", "The Acme Shop", "Zeta"]
    assert (group["count"], group["count_is_estimate"]) == (4, False)
    (limited,) = search(api, api.admin, q="acme", limit="2")
    assert [hit["title"] for hit in limited["hits"]] == ["Acme", "Acme Corp"]
    assert limited["count"] == 4


def test_titles_and_matches_are_what_the_caller_may_see(api: Api) -> None:
    acme = create(api, "company", name="Acme")
    ann = create(api, "person", name="Ann", email="ann@acme.example", company=acme)
    create(api, "tag", word="Ann")  # readable, but the tag entity has no search fields

    admin_groups = search(api, api.admin, q="ann")
    assert [(g["entity"], g["hits"]) for g in admin_groups] == [
        ("person", [{"entity": "person", "id": ann, "title": "Ann at Acme"}])]
    # the clerk may not read companies: the title's reference stays empty, and the
    # company entity is skipped silently
    assert search(api, api.clerk, q="ann")[0]["hits"] == [
        {"entity": "person", "id": ann, "title": "Ann at"}]
    assert [g["entity"] for g in search(api, api.admin, q="acme")] == ["company", "person"]
    assert search(api, api.clerk, q="acme") == []  # e-mail is hidden from the clerk
    assert search(api, api.clerk, q="acme", entity="person") == []
    assert [g["entity"] for g in search(api, api.admin, q="acme", entity="person")] == [
        "person"]


@pytest.mark.parametrize(("query", "status", "pointer"), [
    ({}, 422, "/q"),
    ({"q": "a"}, 422, "/q"),
    ({"q": " a "}, 422, "/q"),
    ({"q": "a" * 201}, 422, "/q"),
    ({"q": "ann", "limit": "0"}, 422, "/limit"),
    ({"q": "ann", "limit": "51"}, 422, "/limit"),
    ({"q": "ann", "page": "2"}, 422, "/page"),
    ({"q": "ann", "entity": "tag"}, 422, "/entity"),
    ({"q": "ann", "entity": "nothing"}, 404, "/entity"),
    ({"q": "ann", "entity": "company"}, 404, "/entity"),  # exists, but not for the clerk
])
def test_bad_requests_are_problems_naming_the_parameter(
        api: Api, query: dict[str, str], status: int, pointer: str) -> None:
    document = problem(api.client.get(URL, query_string=query, headers=api.clerk), status)
    assert pointer in pointers(document)


def test_search_needs_a_signed_in_caller(api: Api) -> None:
    problem(api.client.get(URL, query_string={"q": "ann"}), 401)


def test_the_openapi_document_describes_search(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json", headers=api.admin).get_json()
    operation = document["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"q", "entity", "limit"}
    assert {"SearchHit", "SearchGroup"} <= set(document["components"]["schemas"])


def titles_found(api: Api, q: str, entity_name: str = "company") -> list[str]:
    groups = search(api, api.admin, q=q, entity=entity_name)
    return [hit["title"] for group in groups for hit in group["hits"]]


def test_words_match_by_stem_both_ways_in_english_and_russian(api: Api) -> None:
    for name in ("Supply contract", "Contracts archive", "Договор поставки",
                 "Реестр договоров", "Unrelated"):
        create(api, "company", name=name)
    both = {"Contracts archive", "Supply contract"}
    assert set(titles_found(api, "contracts")) == set(titles_found(api, "contract")) == both
    both = {"Договор поставки", "Реестр договоров"}
    assert set(titles_found(api, "договоров")) == set(titles_found(api, "ДОГОВОР")) == both
    # every word must match (in any search field)
    assert titles_found(api, "договор поставки") == ["Договор поставки"]
    assert titles_found(api, "supply archive") == []


def test_words_match_as_prefixes(api: Api) -> None:
    for name, note in (("Globex Corporation", None), ("Initech", "globally known"),
                       ("Поставщик Север", None), ("Other", None)):
        create(api, "company", name=name, note=note)
    assert titles_found(api, "glob") == ["Globex Corporation", "Initech"]
    assert titles_found(api, "glob corp") == ["Globex Corporation"]
    assert titles_found(api, "постав") == ["Поставщик Север"]
    assert titles_found(api, "init") == ["Initech"]


def test_a_misspelt_word_still_finds_the_record(api: Api) -> None:
    create(api, "company", name="Umbrella Pharmaceuticals")
    create(api, "company", name="Contoso")
    assert titles_found(api, "pharmaceutcals") == ["Umbrella Pharmaceuticals"]
    assert titles_found(api, "Umbrela") == ["Umbrella Pharmaceuticals"]
    assert titles_found(api, "zzzzzz") == []


def test_hits_are_ranked_title_starts_before_title_words_before_other_fields(api: Api) -> None:
    for name, note in (("Orbit", "delta partner"), ("Gamma Delta", None),
                       ("Delta Airlines", None), ("Delta", None)):
        create(api, "company", name=name, note=note)
    assert titles_found(api, "delta") == ["Delta", "Delta Airlines", "Gamma Delta", "Orbit"]
    (limited,) = search(api, api.admin, q="delta", limit="2")
    assert [hit["title"] for hit in limited["hits"]] == ["Delta", "Delta Airlines"]
    assert limited["count"] == 4


def test_changing_the_search_fields_rebuilds_the_index_over_existing_rows(api: Api) -> None:
    create(api, "company", name="Northwind", note="wholesale foods")
    assert titles_found(api, "wholesale") == ["Northwind"]
    api.put_meta({**COMPANY, "search_fields": ["name"]})
    assert titles_found(api, "wholesale") == []
    assert titles_found(api, "northwind") == ["Northwind"]
    api.put_meta({**COMPANY, "search_fields": ["note", "name"]})
    assert titles_found(api, "wholesal") == ["Northwind"]
    create(api, "company", name="Wholesale Club")  # kept by the database on every save
    assert titles_found(api, "wholesale") == ["Wholesale Club", "Northwind"]


def test_a_search_field_made_longer_is_still_searched(api: Api) -> None:
    # PostgreSQL keeps each search field's words in a column computed from the field,
    # which blocks retyping it: the migration drops the index around the change and
    # builds it again over the rows already there.
    create(api, "company", name="Northwind", note="wholesale foods")
    longer = entity("company", field("name", required=True, indexed=True, max_length=400),
                    field("note", max_length=2000), title_field="name",
                    search_fields=["name", "note"])
    api.put_meta(longer)
    assert titles_found(api, "wholesale") == ["Northwind"]
    assert titles_found(api, "northw") == ["Northwind"]
    create(api, "company", name="Northwind Traders " + "x" * 300)
    assert len(titles_found(api, "traders")) == 1
