"""Merging records through the API: three persons into one re-points their deals (a
reference) and tasks (a regarding link), keeps one audit entry and one record.merged event,
and undo puts everything back; the caller's scopes and bad bodies are answered clearly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, problem

from database_harness import postgres_schema, schema_url
from web_harness import role

EVERYTHING = {"read": "all", "create": "all", "update": "all", "delete": "all"}
OWN = {"read": "own", "create": "all", "update": "own", "delete": "own"}

DOCUMENTS: list[dict[str, Any]] = [
    entity("person", field("last_name", "text", required=True),
           field("email", "email", unique=True), field("city", "text"),
           field("manager", "reference", entity="person"), title="{last_name}"),
    entity("deal", field("title", "text", required=True),
           field("contact", "reference", entity="person", on_delete="restrict")),
    entity("task", field("title", "text", required=True),
           field("regarding", "regarding", entities=["person", "deal"])),
    {"kind": "duplicate_rule", "name": "person_by_email", "version": 1,
     "label": labels("By email"), "entity": "person", "action": "block",
     "conditions": [{"field": "email", "normalise": ["email"]}]},
    ADMIN_ROLE,
    role("clerk", entities={"person": OWN, "deal": EVERYTHING, "task": EVERYTHING}),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("merge")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, \
                open_api(schema_url(url, schema), root, *DOCUMENTS) as api:
            yield api
    else:
        with open_api(url, root, *DOCUMENTS) as api:
            yield api


def make(api: Api, entity_name: str, headers: dict[str, str] | None = None, **values: Any
         ) -> dict[str, Any]:
    response = api.client.post(f"/api/v1/records/{entity_name}", json=values,
                               headers=headers or api.clerk)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def get(api: Api, entity_name: str, record_id: str) -> Any:
    return api.client.get(f"/api/v1/records/{entity_name}/{record_id}", headers=api.admin)


def test_three_persons_merge_re_point_deals_and_tasks_and_undo_restores(api: Api) -> None:
    a = make(api, "person", last_name="Ann", email="ann@merge.example")
    b = make(api, "person", last_name="Ann B", email="ann.b@merge.example", city="Oslo")
    c = make(api, "person", last_name="Ann C", manager=b["id"])
    deal_b = make(api, "deal", title="B's deal", contact=b["id"])
    deal_c = make(api, "deal", title="C's deal", contact=c["id"])
    task_c = make(api, "task", title="Call C", regarding=f"person:{c['id']}")

    response = api.client.post("/api/v1/records/person/merge", headers=api.clerk, json={
        "ids": [a["id"], b["id"], c["id"]], "survivor": a["id"],
        "values": {"email": "ann.b@merge.example", "city": "Oslo"}})

    assert response.status_code == 200, response.get_json()
    merged = response.get_json()["data"]
    assert merged["record"]["email"] == "ann.b@merge.example"
    assert merged["record"]["city"] == "Oslo"
    assert merged["merged"] == [b["id"], c["id"]]
    assert get(api, "deal", deal_b["id"]).get_json()["data"]["contact"] == a["id"]
    assert get(api, "deal", deal_c["id"]).get_json()["data"]["contact"] == a["id"]
    assert get(api, "task", task_c["id"]).get_json()["data"]["regarding"] == \
        {"entity": "person", "id": a["id"]}
    assert get(api, "person", b["id"]).status_code == 404
    history = api.client.get(f"/api/v1/records/person/{a['id']}/history",
                             headers=api.clerk).get_json()["data"]
    assert [(e["action"], e["new"]) for e in history if e["action"] == "merged"] == [
        ("merged", {"merge": merged["merge"], "merged": [b["id"], c["id"]]})]
    # the merged records' trails are part of the survivor's: B's city was set on creation
    assert ("created", "city", "Oslo") in [(e["action"], e["field"], e["new"])
                                           for e in history]
    assert [e["action"] for e in history].count("created") >= 3

    undo = api.client.post(f"/api/v1/records/person/merges/{merged['merge']}/undo",
                           headers=api.clerk)

    assert undo.status_code == 200, undo.get_json()
    assert undo.get_json()["data"]["record"]["email"] == "ann@merge.example"
    assert undo.get_json()["data"]["record"]["city"] is None
    assert get(api, "person", b["id"]).get_json()["data"]["email"] == "ann.b@merge.example"
    assert get(api, "person", c["id"]).get_json()["data"]["manager"] == b["id"]
    assert get(api, "deal", deal_b["id"]).get_json()["data"]["contact"] == b["id"]
    assert get(api, "deal", deal_c["id"]).get_json()["data"]["contact"] == c["id"]
    assert get(api, "task", task_c["id"]).get_json()["data"]["regarding"] == \
        {"entity": "person", "id": c["id"]}
    again = api.client.post(f"/api/v1/records/person/merges/{merged['merge']}/undo",
                            headers=api.clerk)
    problem(again, 409)


def test_a_merge_publishes_one_record_merged_event(api: Api) -> None:
    import sqlalchemy as sa

    from metacrm.api.context import api_services
    from metacrm.storage.system_tables import outbox

    a = make(api, "person", last_name="Event A")
    b = make(api, "person", last_name="Event B")

    response = api.client.post("/api/v1/records/person/merge", headers=api.clerk,
                               json={"ids": [a["id"], b["id"]], "survivor": a["id"]})

    assert response.status_code == 200, response.get_json()
    with api.web.app.app_context(), api_services().engine.connect() as conn:
        events = conn.execute(sa.select(outbox.c.type, outbox.c.payload)
                              .where(outbox.c.record_id == a["id"],
                                     outbox.c.type == "record.merged")).all()
    assert [(t, p["merged"]) for t, p in events] == [("record.merged", [b["id"]])]


def test_a_record_outside_the_callers_scope_cannot_be_merged(api: Api) -> None:
    mine = make(api, "person", last_name="Mine")
    theirs = make(api, "person", api.admin, last_name="Theirs")

    response = api.client.post("/api/v1/records/person/merge", headers=api.clerk,
                               json={"ids": [mine["id"], theirs["id"]],
                                     "survivor": mine["id"]})

    problem(response, 404)
    assert get(api, "person", theirs["id"]).status_code == 200


@pytest.mark.parametrize(("body", "pointer"), [
    ({"ids": ["x"], "survivor": "x"}, "/ids"),
    ({"ids": ["a", "b"], "survivor": "c"}, "/survivor"),
    ({"ids": ["a", "b"], "survivor": "a", "values": []}, "/values"),
    ({"ids": ["a", "b"], "survivor": "a", "extra": 1}, "/extra"),
    ({"ids": [str(i) for i in range(11)], "survivor": "0"}, "/ids"),
])
def test_bad_merge_bodies_point_at_the_problem(api: Api, body: dict[str, Any], pointer: str
                                               ) -> None:
    response = api.client.post("/api/v1/records/person/merge", headers=api.clerk, json=body)

    assert pointer in {e["pointer"] for e in problem(response, 422)["errors"]}


def test_the_preview_shows_the_records_side_by_side(api: Api) -> None:
    a = make(api, "person", last_name="Side A", city="Rome")
    b = make(api, "person", last_name="Side B", city="Rome")

    response = api.client.post("/api/v1/records/person/merge/preview", headers=api.clerk,
                               json={"ids": [a["id"], b["id"]]})

    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert [r["id"] for r in data["records"]] == [a["id"], b["id"]]
    assert data["differing"] == ["last_name"]
