"""The metadata API: admins change the running CRM one document at a time, live at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from api_harness import GADGET, Api, entity, field, open_api, pointers, problem

from metacrm.metadata.documents import Document
from metacrm.services.metadata.admin import MetadataAdmin
from metacrm.services.metadata.service import MetadataService


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path) as api:
        yield api


def versions(api: Api) -> list[int]:
    response = api.client.get("/api/v1/meta/versions", headers=api.admin)
    assert response.status_code == 200
    return [v["number"] for v in response.get_json()["data"]]


def test_put_creates_an_entity_that_is_live_at_once(api: Api) -> None:
    change = api.put_meta(GADGET, comment="first gadget")

    assert change["changed"] is True
    assert change["version"] == 2
    assert [op["op"] for op in change["plan"]["operations"]][:1] == ["create_table"]
    with api.web.app.app_context():
        live = api.web.app.extensions["metacrm"].metadata.live()
    assert live.number == 2 and live.model.entity("gadget") is not None
    listed = api.client.get("/api/v1/meta/entity", headers=api.admin).get_json()["data"]
    assert [d["name"] for d in listed] == ["gadget"]
    got = api.client.get("/api/v1/meta/entity/gadget", headers=api.admin).get_json()["data"]
    assert got == GADGET
    history = api.client.get("/api/v1/meta/versions", headers=api.admin).get_json()["data"]
    assert history[0]["comment"] == "first gadget" and history[0]["author"] == "root"


def test_putting_the_same_document_again_changes_nothing(api: Api) -> None:
    api.put_meta(GADGET)
    again = api.put_meta(GADGET)
    assert again == {"version": 2, "changed": False,
                     "plan": {"destructive": False, "operations": [],
                              "description": "No schema changes."}}


def test_kind_and_name_may_come_from_the_url(api: Api) -> None:
    body = {key: value for key, value in GADGET.items() if key not in ("kind", "name")}
    response = api.client.put("/api/v1/meta/entity/gadget", json=body, headers=api.admin)
    assert response.status_code == 200
    mismatch = api.client.put("/api/v1/meta/entity/widget", json=GADGET, headers=api.admin)
    assert pointers(problem(mismatch, 422)) == {"/name"}


def test_invalid_documents_are_refused_with_pointers(api: Api) -> None:
    bad = entity("gadget", field("title", "text", max_length=0), field("n", "text", lenght=3))
    document = problem(api.client.put("/api/v1/meta/entity/gadget", json=bad,
                                      headers=api.admin), 422)
    assert {"/fields/0/max_length", "/fields/1/lenght"} <= pointers(document)
    assert all(entry.get("source") == "api:entity/gadget" for entry in document["errors"])
    assert versions(api) == [1]


def test_destructive_changes_need_confirmation(api: Api) -> None:
    api.put_meta(GADGET)
    smaller = {**GADGET, "fields": GADGET["fields"][:2]}
    refused = problem(api.client.put("/api/v1/meta/entity/gadget", json=smaller,
                                     headers=api.admin), 409)
    assert "archive" in " ".join(e["message"] for e in refused["errors"]).lower()
    assert versions(api) == [2, 1]
    applied = api.put_meta(smaller, confirm_destructive="true")
    assert applied["plan"]["destructive"] is True
    deleted = api.client.delete("/api/v1/meta/entity/gadget", headers=api.admin)
    problem(deleted, 409)
    deleted = api.client.delete("/api/v1/meta/entity/gadget?confirm_destructive=true",
                                headers=api.admin)
    assert deleted.status_code == 200
    assert api.client.get("/api/v1/meta/entity", headers=api.admin).get_json()["data"] == []
    problem(api.client.get("/api/v1/meta/entity/gadget", headers=api.admin), 404)


def test_plan_is_a_dry_run(api: Api) -> None:
    response = api.client.post("/api/v1/meta/plan", json=GADGET, headers=api.admin)
    data = response.get_json()["data"]
    assert response.status_code == 200
    assert data["valid"] is True and data["live_version"] == 1
    assert data["plan"]["operations"][0]["op"] == "create_table"
    bad = {"documents": [GADGET, entity("x", field("a", "nonsense"))]}
    data = api.client.post("/api/v1/meta/plan", json=bad, headers=api.admin).get_json()["data"]
    assert data["valid"] is False
    assert any(e["pointer"] == "/fields/0/type" for e in data["errors"])
    assert versions(api) == [1]
    assert api.client.get("/api/v1/meta/entity", headers=api.admin).get_json()["data"] == []


def test_restore_applies_an_old_version_as_a_new_one(api: Api) -> None:
    api.put_meta(GADGET)
    response = api.client.post("/api/v1/meta/versions/1/restore?confirm_destructive=true",
                               headers=api.admin)
    assert response.status_code == 200
    assert response.get_json()["data"]["version"] == 3
    assert versions(api) == [3, 2, 1]
    assert api.client.get("/api/v1/meta/entity", headers=api.admin).get_json()["data"] == []
    problem(api.client.post("/api/v1/meta/versions/99/restore", headers=api.admin), 404)
    problem(api.client.post(f"/api/v1/meta/versions/{2**40}/restore", headers=api.admin), 404)


def test_only_admins_use_the_metadata_api(api: Api) -> None:
    for method, url in [("get", "/api/v1/meta/entity"), ("get", "/api/v1/meta/versions"),
                        ("put", "/api/v1/meta/entity/gadget"), ("post", "/api/v1/meta/plan"),
                        ("delete", "/api/v1/meta/role/clerk"),
                        ("post", "/api/v1/meta/versions/1/restore")]:
        problem(getattr(api.client, method)(url, json=GADGET, headers=api.clerk), 403)
        problem(getattr(api.client, method)(url, json=GADGET), 401)


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [
    ("get", "/api/v1/meta/widgets", {}, 404),
    ("put", "/api/v1/meta/entity/gadget", {"data": "{not json",
                                           "content_type": "application/json"}, 400),
    ("put", "/api/v1/meta/entity/gadget", {"data": "x", "content_type": "text/plain"}, 415),
    ("put", "/api/v1/meta/entity/gadget", {"json": [1, 2]}, 422),
    ("put", "/api/v1/meta/entity/gadget?confirm_destructive=perhaps", {"json": GADGET}, 422),
    ("put", "/api/v1/meta/entity/gadget?dry=1", {"json": GADGET}, 422),
    ("post", "/api/v1/meta/plan", {"json": {"documents": "all"}}, 422),
    ("post", "/api/v1/meta/plan", {"json": "entity"}, 422),
    ("delete", "/api/v1/meta/entity/nothing", {}, 404),
])
def test_bad_requests_get_problem_documents(
    api: Api, method: str, url: str, kwargs: dict[str, object], status: int
) -> None:
    problem(getattr(api.client, method)(url, headers=api.admin, **kwargs), status)


def test_reads_carry_the_live_version_as_etag(api: Api) -> None:
    assert api.client.get("/api/v1/meta/entity", headers=api.admin).headers["ETag"] == '"v1"'
    change = api.client.put("/api/v1/meta/entity/gadget", json=GADGET, headers=api.admin)
    assert change.headers["ETag"] == '"v2"'
    got = api.client.get("/api/v1/meta/entity/gadget", headers=api.admin)
    assert got.headers["ETag"] == '"v2"'
    assert api.client.get("/api/v1/meta/entity", headers=api.admin).headers["ETag"] == '"v2"'


def test_two_edits_from_the_same_read_cannot_lose_one(api: Api) -> None:
    api.put_meta(GADGET)
    etag = api.client.get("/api/v1/meta/entity/gadget", headers=api.admin).headers["ETag"]
    first = {**GADGET, "fields": [*GADGET["fields"], field("maker")]}
    second = {**GADGET, "fields": [*GADGET["fields"], field("size")]}

    response = api.client.put("/api/v1/meta/entity/gadget", json=first,
                              headers={**api.admin, "If-Match": etag})
    assert response.status_code == 200
    assert response.get_json()["data"]["version"] == 3
    refused = problem(api.client.put("/api/v1/meta/entity/gadget", json=second,
                                     headers={**api.admin, "If-Match": etag}), 412)
    assert "since version 2: now at 3" in refused["detail"]
    problem(api.client.delete("/api/v1/meta/entity/gadget?confirm_destructive=true",
                              headers={**api.admin, "If-Match": etag}), 412)
    assert versions(api) == [3, 2, 1]
    got = api.client.get("/api/v1/meta/entity/gadget", headers=api.admin).get_json()["data"]
    assert got == first


def test_changes_without_if_match_or_with_the_live_etag_still_work(api: Api) -> None:
    api.put_meta(GADGET)
    labelled = {**GADGET, "label": {"en": "Gizmo", "ru": "Gizmo"}}
    assert api.put_meta(labelled)["version"] == 3
    live = {**api.admin, "If-Match": 'W/"v3"'}
    response = api.client.delete("/api/v1/meta/entity/gadget?confirm_destructive=true",
                                 headers=live)
    assert response.status_code == 200 and response.get_json()["data"]["version"] == 4
    anything = {**api.admin, "If-Match": "*"}
    assert api.client.put("/api/v1/meta/entity/gadget", json=GADGET,
                          headers=anything).status_code == 200


def test_a_stale_restore_is_refused(api: Api) -> None:
    api.put_meta(GADGET)
    stale = {**api.admin, "If-Match": '"v1"'}
    problem(api.client.post("/api/v1/meta/versions/1/restore?confirm_destructive=true",
                            headers=stale), 412)
    assert versions(api) == [2, 1]
    live = {**api.admin, "If-Match": '"v2"'}
    response = api.client.post("/api/v1/meta/versions/1/restore?confirm_destructive=true",
                               headers=live)
    assert response.status_code == 200 and response.headers["ETag"] == '"v3"'


@pytest.mark.parametrize(("header", "status"), [
    ('"gadget:2"', 412), ('"v"', 412), ("v2", 422), ('"v1", "v2"', 422), ('"v2" "v3"', 422),
])
def test_if_match_headers_that_cannot_match_are_refused(
    api: Api, header: str, status: int
) -> None:
    api.put_meta(GADGET)
    response = api.client.put("/api/v1/meta/entity/gadget", json=GADGET,
                              headers={**api.admin, "If-Match": header})
    assert pointers(problem(response, status)) == {"/If-Match"}
    assert versions(api) == [2, 1]



def test_a_change_racing_another_admin_without_if_match_is_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process applies between this request's read and its apply: 412, not a lost
    change."""
    api.put_meta(GADGET)
    services = api.web.app.extensions["metacrm"]
    other_admin = MetadataAdmin(MetadataService(services.engine, services.registry))
    apply = services.metadata.apply
    theirs = {**GADGET, "fields": [*GADGET["fields"], field("maker")]}

    def racing_apply(documents: Sequence[Document], **options: Any) -> Any:
        monkeypatch.setattr(services.metadata, "apply", apply)
        assert other_admin.put("entity", "gadget", theirs, author="other").version == 3
        return apply(documents, **options)

    monkeypatch.setattr(services.metadata, "apply", racing_apply)
    mine = {**GADGET, "fields": [*GADGET["fields"], field("size")]}
    refused = problem(api.client.put("/api/v1/meta/entity/gadget", json=mine,
                                     headers=api.admin), 412)
    assert "since version 2: now at 3" in refused["detail"]
    assert versions(api) == [3, 2, 1]
    got = api.client.get("/api/v1/meta/entity/gadget", headers=api.admin).get_json()["data"]
    assert got == theirs


def test_a_path_naming_no_document_is_refused_before_a_stale_if_match(api: Api) -> None:
    """Issue 11 (schemathesis): a stale If-Match answered 412 for a path that can name no
    document, hiding the real problem."""
    stale = {**api.admin, "If-Match": '"v999"'}
    problem(api.client.delete("/api/v1/meta/spaceship/x", headers=stale), 404)
    problem(api.client.delete("/api/v1/meta/entity/Bad-Name", headers=stale), 404)
    bad_name = problem(api.client.put("/api/v1/meta/entity/Bad-Name", json=GADGET,
                                      headers=stale), 422)
    assert pointers(bad_name) == {"/name"}
    problem(api.client.put("/api/v1/meta/spaceship/x", json=GADGET, headers=stale), 404)
    problem(api.client.delete("/api/v1/meta/entity/gadget", headers=stale), 412)
