"""The records API end to end: an admin creates an entity through the metadata API and
its records are served at once — with access scopes, ETags, idempotent retries and
problem documents for every kind of bad input."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import (
    ADMIN_ROLE,
    GADGET,
    Api,
    entity,
    field,
    open_api,
    pointers,
    problem,
)
from flask.testing import FlaskClient

from web_harness import role

MAKER = entity("maker", field("name", "text", required=True, indexed=True))
GADGET_WITH_MAKER = {**GADGET, "fields": [*GADGET["fields"],
                                          field("maker", "reference", entity="maker")]}
OWN_SCOPE = {"read": "own", "create": "all", "update": "own", "delete": "own",
             "export": "none"}
CLERK = role("clerk", entities={"gadget": OWN_SCOPE, "maker": {**OWN_SCOPE, "read": "all"}})
URL = "/api/v1/records/gadget"


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, ADMIN_ROLE, role("clerk")) as api:
        api.put_meta(MAKER)
        api.put_meta(GADGET_WITH_MAKER)
        api.put_meta(CLERK)
        yield api


def create(api: Api, headers: dict[str, str], **values: Any) -> dict[str, Any]:
    response = api.client.post(URL, json={"title": "Widget", **values}, headers=headers)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def listed(api: Api, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = api.client.get(f"{URL}?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    document: dict[str, Any] = response.get_json()
    return document


def titles(document: dict[str, Any]) -> list[str]:
    return [record["title"] for record in document["data"]]


# --- the "done when" ----------------------------------------------------------------


def test_an_entity_put_by_an_admin_is_served_at_once(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with open_api(isolated_database_url, tmp_path) as api:
        api.put_meta(GADGET)
        created = api.client.post(URL, headers=api.admin, json={
            "title": "Lamp", "price": {"amount": "12.5", "currency": "USD"}, "units": 3,
            "weight": 1.25, "made_on": "2024-02-29", "colour": "red"})
        assert created.status_code == 201, created.get_json()
        lamp = created.get_json()["data"]
        assert lamp["price"] == {"amount": "12.50", "currency": "USD"}  # money as strings
        assert lamp["weight"] == "1.250"
        assert lamp["created_at"].endswith("Z")  # RFC 3339 UTC
        assert created.headers["Location"] == f"{URL}/{lamp['id']}"
        assert created.headers["ETag"] == f'"{lamp["id"]}:1"'
        create(api, api.admin, title="Chair", units=10)

        found = listed(api, api.admin, "filter[units][gte]=5")
        assert titles(found) == ["Chair"]
        assert found["meta"] == {"count": 1, "count_is_estimate": False, "next_cursor": None}

        patched = api.client.patch(f"{URL}/{lamp['id']}", json={"units": 4},
                                   headers={**api.admin, "If-Match": f'"{lamp["id"]}:1"'})
        assert patched.status_code == 200, patched.get_json()
        assert patched.get_json()["data"]["units"] == 4
        assert patched.headers["ETag"] == f'"{lamp["id"]}:2"'

        deleted = api.client.delete(f"{URL}/{lamp['id']}", headers=api.admin)
        assert deleted.status_code == 204
        problem(api.client.get(f"{URL}/{lamp['id']}", headers=api.admin), 404)
        assert titles(listed(api, api.admin)) == ["Chair"]

        document = api.client.get("/api/v1/openapi.json", headers=api.admin).get_json()
        assert URL in document["paths"]
        assert "gadget.record" in document["components"]["schemas"]


def test_records_come_back_as_utf8_json_with_sorted_keys(api: Api) -> None:
    """Russian text travels as UTF-8, not as \\u escapes that triple its size."""
    create(api, api.admin, title="Сделка с ООО «Ромашка»")

    body = api.client.get(f"{URL}?filter[title]=Сделка с ООО «Ромашка»",
                          headers=api.admin).get_data()

    assert "Сделка с ООО «Ромашка»".encode() in body
    record = json.loads(body)["data"][0]
    assert list(record) == sorted(record)


def test_an_own_scope_user_sees_only_their_records(api: Api) -> None:
    bob = api.user("bob")
    mine = create(api, api.clerk, title="Mine")
    theirs = create(api, bob, title="Theirs")

    assert titles(listed(api, api.clerk)) == ["Mine"]
    assert listed(api, api.clerk)["meta"]["count"] == 1
    query = api.client.post(f"{URL}/query", json={}, headers=api.clerk).get_json()
    assert titles(query) == ["Mine"]
    problem(api.client.get(f"{URL}/{theirs['id']}", headers=api.clerk), 404)
    problem(api.client.patch(f"{URL}/{theirs['id']}", json={"units": 1},
                             headers=api.clerk), 404)
    problem(api.client.delete(f"{URL}/{theirs['id']}", headers=api.clerk), 404)
    problem(api.client.get(f"{URL}/{theirs['id']}/history", headers=api.clerk), 404)
    assert api.client.get(f"{URL}/{mine['id']}", headers=api.clerk).status_code == 200
    assert sorted(titles(listed(api, api.admin))) == ["Mine", "Theirs"]


# --- lists --------------------------------------------------------------------------------


def test_filters_sort_fields_and_pages(api: Api) -> None:
    for units, colour in [(1, "red"), (5, "blue"), (9, "red"), (None, None)]:
        create(api, api.admin, title=f"G{units}", units=units, colour=colour)

    assert titles(listed(api, api.admin, "filter[colour][in]=red&sort=-units")) == ["G9", "G1"]
    assert titles(listed(api, api.admin, "filter[units][is_null]=true")) == ["GNone"]
    tree = '{"not":{"field":"units","op":"between","value":[2,9]}}'
    assert titles(listed(api, api.admin, f"filter={tree}&sort=units")) == ["G1", "GNone"]
    narrow = listed(api, api.admin, "fields=title&sort=title&limit=1")
    assert "title" in narrow["data"][0] and "units" not in narrow["data"][0]
    seen = []
    cursor = ""
    while True:
        page = listed(api, api.admin, f"sort=-units&limit=3{cursor}")
        seen += titles(page)
        if page["meta"]["next_cursor"] is None:
            break
        cursor = f"&cursor={page['meta']['next_cursor']}"
    assert seen == ["GNone", "G9", "G5", "G1"]
    body = {"filter": {"field": "title", "op": "starts_with", "value": "g"},
            "sort": ["units"], "limit": 2}
    queried = api.client.post(f"{URL}/query", json=body, headers=api.admin).get_json()
    assert titles(queried) == ["G1", "G5"] and queried["meta"]["count"] == 4


def test_errors_about_hidden_fields_read_as_about_unknown_ones(
    isolated_database_url: str, tmp_path: Path
) -> None:
    hiding = role("clerk", entities={
        "gadget": {**OWN_SCOPE, "fields": {"units": "hidden", "maker": "hidden"}},
        "maker": OWN_SCOPE})
    with open_api(isolated_database_url, tmp_path, MAKER, GADGET_WITH_MAKER, ADMIN_ROLE,
                  hiding) as api:
        for hidden, unknown in [("units", "wings"), ("maker", "owner_name")]:
            for query in ("filter[{}][eq]=1", 'filter={{"field":"{}","op":"eq","value":1}}',
                          "include={}"):
                answers = [api.client.get(f"{URL}?{query.format(name)}", headers=api.clerk)
                           for name in (hidden, unknown)]
                documents = [problem(answer, 422) for answer in answers]
                assert (pointers(documents[0]) == pointers(documents[1])
                        or {p.replace(hidden, unknown) for p in pointers(documents[0])}
                        == pointers(documents[1])), documents
                assert hidden not in str(documents[1])
                assert str(documents[0]).replace(hidden, unknown) == str(documents[1])


def test_search_and_include(api: Api) -> None:
    maker = api.client.post("/api/v1/records/maker", json={"name": "Acme"},
                            headers=api.admin).get_json()["data"]
    create(api, api.admin, title="Rocket skates", maker=maker["id"])
    create(api, api.admin, title="Anvil")

    found = listed(api, api.admin, "q=skates&include=maker")
    assert titles(found) == ["Rocket skates"]
    assert found["included"]["maker"][maker["id"]]["name"] == "Acme"
    one = api.client.get(f"{URL}/{found['data'][0]['id']}?include=maker", headers=api.admin)
    assert one.get_json()["included"]["maker"][maker["id"]]["name"] == "Acme"
    assert "_included" not in one.get_json()["data"]


# --- writes: ETags, bulk, history, idempotency -----------------------------------------------


def test_a_stale_if_match_gets_412(api: Api) -> None:
    record = create(api, api.admin)
    etag = f'"{record["id"]}:1"'
    url = f"{URL}/{record['id']}"
    first = api.client.patch(url, json={"units": 1}, headers={**api.admin, "If-Match": etag})
    second = api.client.patch(url, json={"units": 2}, headers={**api.admin, "If-Match": etag})
    assert first.status_code == 200
    problem(second, 412)
    problem(api.client.delete(url, headers={**api.admin, "If-Match": etag}), 412)
    other = api.client.patch(url, json={"units": 3},
                             headers={**api.admin, "If-Match": '"another-record:2"'})
    problem(other, 412)
    assert api.client.get(url, headers=api.admin).get_json()["data"]["units"] == 1
    current = api.client.get(url, headers={**api.admin, "If-None-Match": f'"{record["id"]}:2"'})
    assert current.status_code == 304


@pytest.mark.parametrize(("header", "status"), [
    ('"{id}:1"', 200),
    ('W/"{id}:1"', 200),
    ('"other:7", "{id}:1"', 200),
    ("*", 200),
    ('"{id}:2"', 412),
    ('"other:1"', 412),
    ('"{id}:1", "{id}:2"', 422),
    ("{id}:1", 422),
    ('"{id}:1" "x:2"', 422),
])
def test_if_match_forms(api: Api, header: str, status: int) -> None:
    record = create(api, api.admin)
    response = api.client.patch(f"{URL}/{record['id']}", json={"units": 5},
                                headers={**api.admin, "If-Match": header.format(id=record["id"])})
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_a_path_id_that_is_no_id_is_404_whatever_the_if_match(api: Api, method: str) -> None:
    """A record that cannot exist is not found; its precondition is never judged (412)."""
    response = getattr(api.client, method)(
        f"{URL}/not-an-id", json={"units": 5}, headers={**api.admin, "If-Match": '"x:1"'})
    problem(response, 404)


def test_two_clients_patching_the_same_version_at_once_one_wins(api: Api) -> None:
    record = create(api, api.admin)
    url, etag = f"{URL}/{record['id']}", f'"{record["id"]}:1"'
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def patch(client: FlaskClient, units: int) -> None:
        barrier.wait()
        response = client.patch(url, json={"units": units},
                                headers={**api.admin, "If-Match": etag})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=patch, args=(api.web.app.test_client(), n))
               for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412]
    assert api.client.get(url, headers=api.admin).get_json()["data"]["version"] == 2


def test_bulk_writes_are_all_or_nothing(api: Api) -> None:
    bad = {"records": [{"title": "A"}, {"title": "B", "units": "many"}]}
    document = problem(api.client.post(f"{URL}/bulk", json=bad, headers=api.admin), 422)
    assert pointers(document) == {"/records/1/units"}
    assert listed(api, api.admin)["data"] == []

    created = api.client.post(f"{URL}/bulk", json={"records": [{"title": "A"}, {"title": "B"}]},
                              headers=api.admin)
    assert created.status_code == 201
    a, b = created.get_json()["data"]
    changes = {"records": [{"id": a["id"], "version": 1, "changes": {"units": 1}},
                           {"id": b["id"], "version": 7, "changes": {"units": 2}}]}
    problem(api.client.patch(f"{URL}/bulk", json=changes, headers=api.admin), 412)
    changes["records"][1]["version"] = 1
    updated = api.client.patch(f"{URL}/bulk", json=changes, headers=api.admin)
    assert [r["units"] for r in updated.get_json()["data"]] == [1, 2]


def test_history_shows_who_changed_what(api: Api) -> None:
    record = create(api, api.clerk, units=1)
    api.client.patch(f"{URL}/{record['id']}", json={"units": 2}, headers=api.clerk)
    history = api.client.get(f"{URL}/{record['id']}/history", headers=api.clerk).get_json()
    changes = [(e["action"], e["field"], e["old"], e["new"]) for e in history["data"]]
    assert changes[0] == ("updated", "units", 1, 2)  # newest first
    assert history["data"][0]["actor"] == history["data"][-1]["actor"] == record["owner"]


def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    headers = {**api.admin, "Idempotency-Key": "order-42"}
    first = api.client.post(URL, json={"title": "Once"}, headers=headers)
    again = api.client.post(URL, json={"title": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert titles(listed(api, api.admin)) == ["Once"]

    other_body = api.client.post(URL, json={"title": "Twice"}, headers=headers)
    assert pointers(problem(other_body, 422)) == {"/Idempotency-Key"}
    clerks = api.client.post(URL, json={"title": "Once"},
                             headers={**api.clerk, "Idempotency-Key": "order-42"})
    assert clerks.status_code == 201  # keys are per user
    retry = {**api.admin, "Idempotency-Key": "retry-me"}
    failed = api.client.post(URL, json={"title": "x", "units": "x"}, headers=retry)
    again_failed = api.client.post(URL, json={"title": "x", "units": "x"}, headers=retry)
    assert pointers(problem(again_failed, 422)) == pointers(problem(failed, 422)) == {"/units"}
    fixed = api.client.post(URL, json={"title": "Fixed"}, headers=retry)
    assert fixed.status_code == 201  # an error changed nothing: the key was released


def test_explain_tells_admins_why(api: Api) -> None:
    answer = api.client.get("/api/v1/access/explain?user=ann&entity=gadget", headers=api.admin)
    assert answer.status_code == 200, answer.get_json()
    data = answer.get_json()["data"]
    assert data["subject"]["username"] == "ann"
    assert data["operations"]["read"]["allowed"] is True
    problem(api.client.get("/api/v1/access/explain?user=ann&entity=gadget",
                           headers=api.clerk), 403)
    problem(api.client.get("/api/v1/access/explain?user=nobody&entity=gadget",
                           headers=api.admin), 404)
    problem(api.client.get("/api/v1/access/explain?entity=gadget", headers=api.admin), 422)


# --- bad input of every shape -------------------------------------------------------------


BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str | None]] = [
    ("get", "/api/v1/records/nothing", {}, 404, None),
    ("post", "/api/v1/records/nothing", {"json": {}}, 404, None),
    ("get", f"{URL}?filter[units][like]=1", {}, 422, "/filter/units/like"),
    ("get", f"{URL}?filter[secret][eq]=1", {}, 422, "/filter/secret"),
    ("get", f"{URL}?filter[units][gt]=lots", {}, 422, "/filter/units/gt"),
    ("get", f"{URL}?sort=weight", {}, 422, "/sort/0"),
    ("get", f"{URL}?cursor=bm90LWEtY3Vyc29y", {}, 422, "/cursor"),
    ("get", f"{URL}?cursor=%FF%FE", {}, 422, "/cursor"),
    ("get", f"{URL}?limit=100000", {}, 422, "/limit"),
    ("get", f"{URL}?filter=%7B%22and%22%3A1%7D", {}, 422, "/filter/and"),
    ("post", f"{URL}/query", {"json": {"limit": "all"}}, 422, "/limit"),
    ("get", f"{URL}?filter[title][contains]=a%00", {}, 422, "/filter[title][contains]"),
    ("post", f"{URL}/query", {"json": {"filter": {"field": "title", "op": "contains",
                                                  "value": "\x00"}}}, 422, "/filter/value"),
    ("get", "/api/v1/access/explain?user=a%00&entity=gadget", {}, 422, "/user"),
    ("post", f"{URL}/query", {"data": "{", "content_type": "application/json"}, 400, None),
    ("post", URL, {"data": "{bad json", "content_type": "application/json"}, 400, None),
    ("post", URL, {"data": "title=x", "content_type": "application/x-www-form-urlencoded"},
     415, None),
    ("post", URL, {"json": ["title"]}, 422, ""),
    ("post", URL, {"json": {"title": 5}}, 422, "/title"),
    ("post", URL, {"json": {"title": "x", "colour": "green"}}, 422, "/colour"),
    ("post", URL, {"json": {"title": "x", "wings": 2}}, 422, "/wings"),
    ("post", URL, {"json": {"title": "x", "id": "mine"}}, 422, "/id"),
    ("post", URL, {"json": {"price": {"amount": "1e400"}}}, 422, "/price"),
    ("post", URL, {"json": {"title": "x"}, "headers": {"Idempotency-Key": "ü"}}, 422,
     "/Idempotency-Key"),
    ("post", f"{URL}/bulk", {"json": {"records": []}}, 422, "/records"),
    ("post", f"{URL}/bulk", {"json": [{"title": "x"}]}, 422, ""),
    ("patch", f"{URL}/bulk", {"json": {"records": [{"id": 5}]}}, 422, None),
    ("patch", f"{URL}/no-such-id", {"json": {"units": 1}}, 404, None),
    ("patch", f"{URL}/no-such-id", {"json": {"units": 1}, "headers": {"If-Match": "v1"}},
     422, "/If-Match"),
    ("delete", f"{URL}/no-such-id", {}, 404, None),
    ("get", f"{URL}/no-such-id?include=title", {}, 422, "/include/0"),
    ("get", f"{URL}/no-such-id/history", {}, 404, None),
    ("put", URL, {"json": {}}, 405, None),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "status", "pointer"), BAD_REQUESTS,
                         ids=[f"{m} {u.split('gadget')[-1]} {s}" for m, u, _, s, _p in
                              BAD_REQUESTS])
def test_bad_input_gets_a_problem_document(
    api: Api, method: str, url: str, kwargs: dict[str, Any], status: int, pointer: str | None
) -> None:
    headers = {**api.admin, **kwargs.pop("headers", {})}
    document = problem(getattr(api.client, method)(url, headers=headers, **kwargs), status)
    if pointer is not None:
        assert pointer in pointers(document), document


def test_anonymous_callers_get_401_before_anything_else(api: Api) -> None:
    problem(api.client.get(URL), 401)
    problem(api.client.get("/api/v1/records/nothing"), 401)
    problem(api.client.post(URL, json={"title": "x"}), 401)

