"""Dashboards over HTTP, and the permission matrix of every dashboard read path.

Roles x dashboard endpoints (list, get, run): a dashboard is listed and described only to
the users it is shared with (404 otherwise, as if it did not exist); each widget counts and
sums exactly the records its user may read, so a rep and a manager see different totals for
the same dashboard; the dashboard filters reach every widget; a widget whose report the user
may not run answers its status instead of failing the dashboard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, pointers, problem

from database_harness import postgres_schema, schema_url
from metacrm.access.subject import AccessSubject
from metacrm.reports.dashboards import previous_period
from web_harness import role

DEAL = entity(
    "deal",
    field("title", required=True),
    field("stage", "state", pipeline="deal_flow"),
    field("amount", "money", currency="USD"),
    field("close_date", "date"),
    field("secret", "integer"),
    title_field="title",
)
VAULT = entity("vault", field("name", required=True), title_field="name")
FLOW = {"kind": "pipeline", "name": "deal_flow", "version": 1, "label": labels("Flow"),
        "entity": "deal", "initial_state": "open",
        "states": [{"name": "open", "label": labels("Open"), "probability": 20},
                   {"name": "won", "label": labels("Won"), "category": "won",
                    "probability": 100}],
        "transitions": [{"name": "win", "label": labels("Win"), "from": ["open"],
                         "to": "won"}]}
ROLES = (
    ADMIN_ROLE,
    role("rep", entities={"deal": {"read": "own", "create": "own", "update": "own",
                                   "fields": {"secret": "hidden"}}}),
    role("manager", entities={"deal": {"read": "all"}, "vault": {"read": "all"}}),
    role("clerk"),
)


def report(name: str, **body: Any) -> dict[str, Any]:
    return {"kind": "report", "name": name, "version": 1, "label": labels(name),
            "entity": "deal", **body}


REPORTS = (
    report("by_stage", group_by=["stage"], date_field="close_date",
           metrics=[{"op": "count"}, {"op": "sum", "field": "amount", "name": "total"}]),
    report("deal_funnel", type="funnel"),
    report("secret_sum", metrics=[{"op": "sum", "field": "secret"}]),
    {"kind": "report", "name": "vaults", "version": 1, "label": labels("Vaults"),
     "entity": "vault", "metrics": [{"op": "count"}]},
)
PIPELINE = {
    "kind": "dashboard", "name": "pipeline", "version": 1, "label": labels("Pipeline"),
    "start_page": True,
    "widgets": [
        {"report": "by_stage", "chart": "bar", "metric": "total"},
        {"report": "by_stage", "chart": "number", "metric": "total"},
        {"report": "deal_funnel", "chart": "funnel"},
        {"report": "secret_sum", "chart": "table"},
        {"report": "vaults", "chart": "number"},
    ],
}
MANAGERS = {"kind": "dashboard", "name": "managers", "version": 1,
            "label": labels("Managers"), "shared_with": {"roles": ["manager"]},
            "defaults": {"period": "this_year"}, "widgets": [{"report": "by_stage"}]}
DOCUMENTS = (DEAL, VAULT, FLOW, *ROLES, *REPORTS, PIPELINE, MANAGERS)

TODAY = date.today()
LAST_YEAR = date(TODAY.year - 1, 6, 15).isoformat()
# title: (owner, amount, won, close date)
DEALS = {
    "A": ("rita", "100.00", True, TODAY.isoformat()),
    "B": ("rita", "50.00", False, TODAY.isoformat()),
    "C": ("ron", "300.00", True, TODAY.isoformat()),
    "D": ("ron", "70.00", False, LAST_YEAR),
}
USERS = {"rita": "rep", "ron": "rep", "max": "manager", "out": "clerk"}
VISIBLE = {"rita": {"A", "B"}, "ron": {"C", "D"}, "max": set(DEALS), "root": set(DEALS),
           "out": set()}


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.headers = {"root": api.admin}
        for user, role_name in USERS.items():
            self.headers[user] = api.user(user, role_name)
        self.ids = {name: self.user_id(name) for name in [*USERS, "root"]}
        for title, (owner, amount, won, close) in DEALS.items():
            response = self.client.post("/api/v1/records/deal", headers=api.admin, json={
                "title": title, "owner": self.ids[owner], "close_date": close, "secret": 7,
                "amount": {"amount": amount, "currency": "USD"}})
            assert response.status_code == 201, response.get_json()
            if won:
                deal = response.get_json()["data"]["id"]
                moved = self.client.post(f"/api/v1/records/deal/{deal}/transitions/win",
                                         headers=api.admin, json={})
                assert moved.status_code == 200, moved.get_json()

    def user_id(self, username: str) -> str:
        with self.api.web.app.app_context():
            return str(self.api.web.identity.appbuilder.sm.find_user(username=username).id)

    def run(self, user: str, name: str = "pipeline", **filters: Any) -> Any:
        return self.client.post(f"/api/v1/dashboards/{name}/run", json=filters,
                                headers=self.headers[user])

    def widgets(self, user: str, **filters: Any) -> list[dict[str, Any]]:
        response = self.run(user, **filters)
        assert response.status_code == 200, response.get_json()
        widgets: list[dict[str, Any]] = response.get_json()["widgets"]
        return widgets


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("dashboards")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, open_api(schema_url(url, schema), root,
                                                      *DOCUMENTS) as api:
            yield World(api)
        return
    with open_api(url, root, *DOCUMENTS) as api:
        yield World(api)


def _sum(titles: set[str]) -> Decimal:
    return sum((Decimal(DEALS[t][1]) for t in titles), Decimal(0))


@pytest.mark.parametrize("user", ["rita", "ron", "max", "root"])
def test_every_widget_counts_only_what_its_user_may_read(world: World, user: str) -> None:
    by_stage, number, funnel, *_ = world.widgets(user)

    visible = VISIBLE[user]
    assert by_stage["status"] == "ok" and by_stage["chart"] == "bar"
    assert by_stage["result"]["totals"]["count"] == len(visible)
    assert Decimal(by_stage["result"]["totals"]["total"]) == _sum(visible)
    assert Decimal(number["result"]["totals"]["total"]) == _sum(visible)
    assert funnel["chart"] == "funnel" and funnel["metric"] == "entered"
    assert funnel["result"]["totals"]["entered"] == len(visible)


def test_a_rep_and_a_manager_see_different_totals_for_the_same_dashboard(
        world: World) -> None:
    totals = {user: Decimal(world.widgets(user)[0]["result"]["totals"]["total"])
              for user in ("rita", "max")}

    assert totals == {"rita": Decimal("150.00"), "max": Decimal("520.00")}


def test_the_filters_reach_every_widget(world: World) -> None:
    this_year = world.widgets("max", period="this_year")
    mine = world.widgets("rita", owner="$user")
    of_ron = world.widgets("max", owner=world.ids["ron"])

    assert this_year[0]["result"]["totals"]["count"] == 3  # D closes last year
    assert Decimal(this_year[1]["result"]["totals"]["total"]) == Decimal("450.00")
    assert mine[0]["result"]["totals"]["count"] == 2
    assert of_ron[0]["result"]["totals"]["count"] == 2
    assert of_ron[2]["result"]["totals"]["entered"] == 2
    assert world.run("max", period="this_year").get_json()["filters"] == {
        "period": "this_year"}


def test_the_dashboard_defaults_apply_unless_the_run_says_any(world: World) -> None:
    default = world.run("max", "managers").get_json()
    any_time = world.run("max", "managers", period=None).get_json()

    assert default["filters"] == {"period": "this_year"}
    assert default["widgets"][0]["result"]["totals"]["count"] == 3
    assert any_time["filters"] == {"period": None}
    assert any_time["widgets"][0]["result"]["totals"]["count"] == 4


def test_a_number_compares_with_the_previous_period(world: World) -> None:
    number = world.widgets("max", period="this_year")[1]
    everything = world.widgets("max")[1]

    previous = number["previous"]
    assert previous["period"] == {"from": f"{TODAY.year - 1}-01-01",
                                  "to": f"{TODAY.year - 1}-12-31"}
    assert Decimal(previous["totals"]["total"]) == Decimal("70.00")
    assert everything["previous"] is None  # no period, nothing to compare with


def test_widgets_the_user_may_not_run_report_their_status(world: World) -> None:
    rep = world.widgets("rita")
    manager = world.widgets("max")
    outsider = world.widgets("out")

    assert rep[3]["status"] == "refused" and "/metrics/0/field" in {
        e["pointer"] for e in rep[3]["errors"]}
    assert rep[4]["status"] == "forbidden" and "result" not in rep[4]
    assert manager[3]["status"] == "ok" and manager[3]["result"]["totals"]["sum_secret"] == 28
    assert manager[4]["status"] == "ok" and manager[4]["result"]["totals"]["count"] == 0
    assert {w["status"] for w in outsider} == {"forbidden"}


@pytest.mark.parametrize(("user", "seen"), [
    ("rita", ["pipeline"]), ("out", ["pipeline"]), ("max", ["managers", "pipeline"]),
    ("root", ["managers", "pipeline"])])
def test_a_dashboard_is_seen_only_by_those_it_is_shared_with(world: World, user: str,
                                                              seen: list[str]) -> None:
    headers = world.headers[user]
    listed = world.client.get("/api/v1/dashboards", headers=headers).get_json()["data"]
    described = world.client.get("/api/v1/dashboards/managers", headers=headers)

    assert [d["name"] for d in listed] == seen
    if "managers" in seen:
        assert described.get_json()["data"]["shared_with"] == {"roles": ["manager"]}
        assert world.run(user, "managers").status_code == 200
    else:
        problem(described, 404)
        problem(world.run(user, "managers"), 404)


def test_the_start_page_is_a_dashboard_with_a_widget_the_user_may_run(world: World) -> None:
    dashboards = world.api.web.app.extensions["metacrm"].services.dashboards
    subjects = {user: AccessSubject(world.ids[user], user, (USERS[user],))
                for user in ("rita", "out")}

    assert dashboards.start_page(subjects["rita"]).name == "pipeline"
    assert dashboards.start_page(subjects["out"]) is None  # no widget an outsider may run


def test_a_dashboard_is_described(world: World) -> None:
    body = world.client.get("/api/v1/dashboards/pipeline",
                            headers=world.headers["rita"]).get_json()["data"]

    assert body["start_page"] is True and body["columns"] == 2
    assert body["filters"] == ["period", "owner", "team"]
    assert body["widgets"][0] == {"report": "by_stage", "chart": "bar", "metric": "total",
                                  "label": {}, "width": 1}
    problem(world.client.get("/api/v1/dashboards/nothing", headers=world.headers["max"]), 404)
    problem(world.client.get("/api/v1/dashboards", headers=None), 401)


def test_bad_filters_are_422_naming_them(world: World) -> None:
    period = world.run("max", period="someday")
    extra = world.run("max", colour="red")
    team = world.run("max", team="nobody")
    query = world.client.get("/api/v1/dashboards?x=1", headers=world.headers["max"])
    body = world.client.post("/api/v1/dashboards/pipeline/run", json=[1],
                             headers=world.headers["max"])

    assert pointers(problem(period, 422)) == {"/period"}
    assert pointers(problem(extra, 422)) == {"/colour"}
    assert pointers(problem(team, 422)) == {"/team"}
    assert pointers(problem(query, 422)) == {"/x"}
    problem(body, 422)


def test_the_openapi_document_describes_the_dashboard_endpoints(world: World) -> None:
    document = world.client.get("/api/v1/openapi.json", headers=world.api.admin).get_json()

    assert {"/api/v1/dashboards", "/api/v1/dashboards/{name}",
            "/api/v1/dashboards/{name}/run"} <= set(document["paths"])
    assert {"Dashboard", "DashboardRun", "DashboardSummary"} <= set(
        document["components"]["schemas"])


def test_the_previous_period_steps_back_by_whole_months_or_by_days() -> None:
    assert previous_period(date(2026, 4, 1), date(2026, 7, 1)) == (date(2026, 1, 1),
                                                                   date(2026, 4, 1))
    assert previous_period(date(2026, 1, 1), date(2027, 1, 1)) == (date(2025, 1, 1),
                                                                   date(2026, 1, 1))
    assert previous_period(date(2026, 3, 1), date(2026, 4, 1)) == (date(2026, 2, 1),
                                                                   date(2026, 3, 1))
    assert previous_period(date(2026, 3, 10), date(2026, 3, 20)) == (date(2026, 2, 28),
                                                                     date(2026, 3, 10))


def test_an_admin_saves_a_dashboard_as_metadata_checked_like_every_document(
        world: World) -> None:
    body = {"kind": "dashboard", "name": "mine", "version": 1, "label": labels("Mine"),
            "shared_with": {"users": [world.ids["max"]]},
            "widgets": [{"report": "by_stage", "chart": "pie"}]}
    bad = world.client.put("/api/v1/meta/dashboard/mine", headers=world.api.admin,
                           json={**body, "widgets": [{"report": "by_stag"}]})
    world.api.put_meta(body)
    try:
        seen = {user: [d["name"] for d in world.client.get(
            "/api/v1/dashboards", headers=world.headers[user]).get_json()["data"]]
            for user in ("max", "rita")}
        run = world.run("max", "mine").get_json()["widgets"][0]
    finally:
        deleted = world.client.delete("/api/v1/meta/dashboard/mine", headers=world.api.admin)

    assert pointers(problem(bad, 422)) == {"/widgets/0/report"}
    assert seen == {"max": ["managers", "mine", "pipeline"], "rita": ["pipeline"]}
    assert run["chart"] == "pie" and run["result"]["totals"]["count"] == len(DEALS)
    assert deleted.status_code in (200, 204)
