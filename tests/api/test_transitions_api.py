"""The pipeline transitions API end to end: a deal goes from qualification to won through
its guards, per-role rules and locked states hold, every transition is in the history and
the outbox, If-Match works as on PATCH, bad requests get problem documents, and the
OpenAPI document describes both endpoints truthfully."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, pointers, problem
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from metacrm.api import web_runtime
from metacrm.storage import outbox
from web_harness import role

DEAL = entity(
    "deal",
    field("title", "text", required=True),
    field("amount", "decimal"),
    field("close_date", "date"),
    field("loss_reason", "picklist", choices=[{"value": "price", "label": labels("Price")}]),
    field("stage", "state", pipeline="deal_pipeline"),
)


def step(name: str, origin: Any, to: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": labels(name), "from": origin, "to": to, **extra}


PIPELINE = {
    "kind": "pipeline", "name": "deal_pipeline", "version": 1, "label": labels("Deals"),
    "entity": "deal",
    "states": [
        {"name": "qualification", "label": labels("Qualification")},
        {"name": "proposal", "label": labels("Proposal")},
        {"name": "negotiation", "label": labels("Negotiation")},
        {"name": "won", "label": labels("Won"), "category": "won", "locked": True,
         "unlocked_for": ["sales_manager"]},
        {"name": "lost", "label": labels("Lost"), "category": "lost", "locked": True,
         "unlocked_for": ["sales_manager"]},
    ],
    "transitions": [
        step("propose", ["qualification"], "proposal", required_fields=["amount", "close_date"]),
        step("negotiate", ["proposal"], "negotiation"),
        step("win", ["proposal", "negotiation"], "won", required_fields=["amount", "close_date"],
             condition={"field": "amount", "op": "gt", "value": "0"}),
        step("lose", ["qualification", "proposal", "negotiation"], "lost",
             required_fields=["loss_reason"]),
        step("reopen", ["won", "lost"], "qualification", roles=["sales_manager"]),
    ],
}
OWN = {"read": "own", "create": "all", "update": "own", "delete": "own", "export": "none"}
ALL = {"read": "all", "create": "all", "update": "all", "delete": "all", "export": "all"}
DOCUMENTS = (
    ADMIN_ROLE, role("clerk", entities={"deal": ALL}), DEAL, PIPELINE,
    role("sales_rep", entities={"deal": OWN},
         transitions={"deal_pipeline": ["propose", "negotiate", "win", "lose"]}),
    role("sales_manager", entities={"deal": ALL}, transitions={"deal_pipeline": "*"}),
)
URL = "/api/v1/records/deal"


class Sales:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.rep = api.user("rita", "sales_rep")
        self.other_rep = api.user("ron", "sales_rep")
        self.manager = api.user("max", "sales_manager")

    def deal(self, headers: dict[str, str] | None = None, **values: Any) -> dict[str, Any]:
        response = self.client.post(URL, json={"title": "Deal", **values},
                                    headers=headers or self.rep)
        assert response.status_code == 201, response.get_json()
        record: dict[str, Any] = response.get_json()["data"]
        return record

    def move(self, record_id: str, name: str, headers: dict[str, str] | None = None,
             **request: Any) -> Any:
        return self.client.post(f"{URL}/{record_id}/transitions/{name}",
                                headers={**(headers or self.rep), **request.pop("extra", {})},
                                **request)

    def options(self, record_id: str, headers: dict[str, str]) -> Any:
        return self.client.get(f"{URL}/{record_id}/transitions", headers=headers)

    def won(self) -> dict[str, Any]:
        deal = self.deal(amount="10", close_date="2030-05-01")
        assert self.move(deal["id"], "propose").status_code == 200
        response = self.move(deal["id"], "win")
        assert response.status_code == 200, response.get_json()
        record: dict[str, Any] = response.get_json()["data"]
        return record

    def events(self, record_id: str) -> list[outbox.OutboxEvent]:
        with self.api.web.app.app_context():
            engine = web_runtime().engine
        with engine.connect() as conn:
            return outbox.events_for(conn, "deal", record_id)


@pytest.fixture
def sales(isolated_database_url: str, tmp_path: Path) -> Iterator[Sales]:
    with open_api(isolated_database_url, tmp_path, *DOCUMENTS) as api:
        yield Sales(api)


def test_a_deal_goes_from_qualification_to_won_through_its_guards(sales: Sales) -> None:
    deal = sales.deal()
    listed = sales.options(deal["id"], sales.rep)
    assert listed.status_code == 200
    assert [(t["name"], t["allowed"], t["missing"]) for t in listed.get_json()["transitions"]] == [
        ("propose", False, ["amount", "close_date"]), ("lose", False, ["loss_reason"])]

    missing = problem(sales.move(deal["id"], "propose"), 422)
    assert pointers(missing) == {"/values/amount", "/values/close_date"}

    proposed = sales.move(deal["id"], "propose",
                          json={"values": {"amount": "0", "close_date": "2030-05-01"}})
    assert proposed.status_code == 200, proposed.get_json()
    assert proposed.get_json()["data"]["stage"] == "proposal"
    assert proposed.headers["ETag"] == f'"{deal["id"]}:2"'

    negotiated = sales.move(deal["id"], "negotiate", json={})
    assert negotiated.get_json()["data"]["stage"] == "negotiation"
    unmet = problem(sales.move(deal["id"], "win"), 422)
    assert pointers(unmet) == {"/condition"}
    assert "not met" in unmet["errors"][0]["message"]

    won = sales.move(deal["id"], "win", json={"values": {"amount": "1200"}},
                     extra={"If-Match": negotiated.headers["ETag"]})
    assert won.status_code == 200, won.get_json()
    assert (won.get_json()["data"]["stage"], won.get_json()["data"]["amount"]) == (
        "won", "1200.00")

    history = sales.client.get(f"{URL}/{deal['id']}/history", headers=sales.rep).get_json()
    stages = [(e["old"], e["new"]) for e in history["data"]
              if e["action"] == "transitioned" and e["field"] == "stage"]
    assert stages == [("negotiation", "won"), ("proposal", "negotiation"),
                      ("qualification", "proposal")]

    events = [e for e in sales.events(deal["id"]) if e.type == "record.transitioned"]
    assert [e.payload["transition"]["name"] for e in events] == ["propose", "negotiate", "win"]
    assert events[-1].payload["transition"] == {
        "pipeline": "deal_pipeline", "name": "win", "from": "negotiation", "to": "won"}
    assert events[-1].payload["previous"] == {"stage": "negotiation", "amount": "0.00"}


def test_who_may_perform_which_transition(sales: Sales) -> None:
    won = sales.won()
    refused = problem(sales.move(won["id"], "reopen"), 403)
    assert refused["errors"][0]["message"] == (
        "only these roles may perform it: sales_manager, boss")
    assert sales.options(won["id"], sales.rep).get_json()["transitions"] == []
    managers = sales.options(won["id"], sales.manager).get_json()["transitions"]
    assert [(t["name"], t["allowed"], t["to_label"]["en"]) for t in managers] == [
        ("reopen", True, "Qualification")]

    clerk = problem(sales.move(won["id"], "reopen", sales.api.clerk), 403)  # no grant
    assert "reopen" in clerk["detail"]
    reopened = sales.move(won["id"], "reopen", sales.manager)
    assert reopened.get_json()["data"]["stage"] == "qualification"
    for name in ("lose", "reopen"):
        response = sales.move(won["id"], name, sales.api.admin,
                              json={"values": {"loss_reason": "price"}})
        assert response.status_code == 200, response.get_json()

    problem(sales.options(won["id"], sales.other_rep), 404)  # outside ron's read scope
    problem(sales.move(won["id"], "lose", sales.other_rep), 404)


def test_a_won_deal_is_read_only_for_reps(sales: Sales) -> None:
    won = sales.won()
    url = f"{URL}/{won['id']}"
    patched = problem(sales.client.patch(url, json={"title": "X"}, headers=sales.rep), 403)
    assert pointers(patched) == {"/stage"}
    assert "locked state 'won'" in patched["errors"][0]["message"]
    assert "sales_manager" in patched["errors"][0]["message"]
    problem(sales.client.delete(url, headers=sales.rep), 403)
    bulk = problem(sales.client.patch(f"{URL}/bulk", headers=sales.rep, json={
        "records": [{"id": won["id"], "changes": {"title": "X"}}]}), 403)
    # (api/records.py re-points only 422s into `/records/...`; a 403 keeps the item pointer)
    assert [p.endswith("/0/changes/stage") for p in pointers(bulk)] == [True]

    fixed = sales.client.patch(url, json={"title": "Fixed"}, headers=sales.manager)
    assert fixed.status_code == 200
    assert sales.move(won["id"], "reopen", sales.manager).status_code == 200
    assert sales.client.patch(url, json={"title": "Again"}, headers=sales.rep).status_code == 200
    assert sales.client.delete(url, headers=sales.rep).status_code == 204


def test_patching_the_state_names_the_transitions(sales: Sales) -> None:
    deal = sales.deal(amount="5", close_date="2030-05-01")
    sales.move(deal["id"], "propose")
    refused = problem(sales.client.patch(f"{URL}/{deal['id']}", json={"stage": "won"},
                                         headers=sales.rep), 422)
    assert refused["errors"] == [{"pointer": "/stage", "message": (
        "changes only through a transition of pipeline 'deal_pipeline'; from 'proposal': "
        "negotiate (→ negotiation), win (→ won), lose (→ lost)")}]


def test_two_clients_moving_one_version_one_wins(sales: Sales) -> None:
    deal = sales.deal(loss_reason="price")
    etag = f'"{deal["id"]}:1"'
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def move(client: FlaskClient) -> None:
        barrier.wait()
        response = client.post(f"{URL}/{deal['id']}/transitions/lose",
                               headers={**sales.rep, "If-Match": etag})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=move, args=(sales.api.web.app.test_client(),))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412]
    problem(sales.move(deal["id"], "reopen", sales.manager,
                       extra={"If-Match": '"another-record:2"'}), 412)


@pytest.mark.parametrize(("request_args", "status", "pointer"), [
    ({"json": {"value": {}}}, 422, "/value"),
    ({"json": {"values": ["price"]}}, 422, "/values"),
    ({"json": ["price"]}, 422, ""),
    ({"json": {"values": {"stage": "won"}}}, 422, "/values/stage"),
    ({"json": {"values": {"loss_reason": "cheap"}}}, 422, "/values/loss_reason"),
    ({"json": {"values": {"nope": 1}}}, 422, "/values/nope"),
    ({"data": "{", "content_type": "application/json"}, 400, None),
    ({"data": "values=1", "content_type": "text/plain"}, 415, None),
    ({"query_string": {"x": "1"}}, 422, "/x"),
    ({"extra": {"If-Match": "v1"}}, 422, "/If-Match"),
])
def test_bad_transition_requests_get_problems(
    sales: Sales, request_args: dict[str, Any], status: int, pointer: str | None,
) -> None:
    deal = sales.deal()
    document = problem(sales.move(deal["id"], "lose", **request_args), status)
    if pointer is not None:
        assert pointer in pointers(document)
    assert sales.client.get(f"{URL}/{deal['id']}", headers=sales.rep).get_json()[
        "data"]["version"] == 1


def test_unknown_things_are_not_found(sales: Sales) -> None:
    deal = sales.deal()
    problem(sales.move(deal["id"], "teleport"), 404)
    problem(sales.move("no-such-id", "lose"), 404)
    problem(sales.client.post(f"/api/v1/records/nothing/{deal['id']}/transitions/lose",
                              headers=sales.rep), 404)
    problem(sales.client.get(f"/api/v1/records/nothing/{deal['id']}/transitions",
                             headers=sales.rep), 404)
    problem(sales.client.get(f"{URL}/{deal['id']}/transitions"), 401)
    conflict = problem(sales.move(deal["id"], "negotiate"), 409)
    assert pointers(conflict) == {"/stage"}


def test_the_openapi_document_describes_transitions_truthfully(sales: Sales) -> None:
    document = sales.client.get("/api/v1/openapi.json", headers=sales.rep).get_json()
    validate(document)
    post = document["paths"][f"{URL}/{{id}}/transitions/{{name}}"]
    assert post["parameters"][1]["schema"]["enum"] == [
        "propose", "negotiate", "win", "lose", "reopen"]
    assert f"{URL}/{{id}}/transitions" in document["paths"]

    records = {"rep": sales.deal()["id"], "admin": sales.deal(sales.api.admin)["id"]}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", sales.api.web.app,
                                            headers=sales.api.admin)
    operations = [result.ok() for result in schema.get_all_operations()
                  if "/transitions" in result.ok().path]
    assert len(operations) == 2
    for operation in operations:
        for headers in (sales.api.admin, sales.rep):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _exercise(operation.as_strategy(generation_mode=mode), headers)
            for record_id in records.values():
                _exercise(operation.as_strategy(path_parameters={"id": record_id}), headers)


def _exercise(strategy: Any, headers: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(max_examples=10, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[
            not_a_server_error, status_code_conformance, content_type_conformance,
            response_headers_conformance, response_schema_conformance])

    run()
