"""Reports over HTTP, and the permission matrix of every report read path.

Roles x report endpoints (list, get, run, ad-hoc run, CSV/XLSX export): a report counts and
sums exactly the records the role may read; a field hidden from the role can be neither
grouped by nor summed (422 naming the field); a role that may not read the entity gets
404 for its reports (as if they did not exist) and 403 for an ad-hoc report over it; a
list report's file needs an export grant.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, pointers, problem
from openpyxl import load_workbook

from database_harness import postgres_schema, schema_url
from web_harness import role

COMPANY = entity("company", field("name", required=True),
                 field("industry", "picklist", choices=[
                     {"value": "tech", "label": labels("Tech")},
                     {"value": "retail", "label": labels("Retail")}]),
                 title_field="name")
DEAL = entity(
    "deal",
    field("title", required=True),
    field("company", "reference", entity="company"),
    field("stage", "state", pipeline="deal_flow"),
    field("amount", "money", currency="USD", currencies=["USD", "EUR"]),
    field("close_date", "date"),
    field("secret", "integer"),
    title_field="title",
)
FLOW = {"kind": "pipeline", "name": "deal_flow", "version": 1, "label": labels("Flow"),
        "entity": "deal", "initial_state": "open",
        "states": [{"name": "open", "label": labels("Open"), "probability": 20},
                   {"name": "proposal", "label": labels("Proposal"), "probability": 50},
                   {"name": "won", "label": labels("Won"), "category": "won",
                    "probability": 100},
                   {"name": "lost", "label": labels("Lost"), "category": "lost",
                    "probability": 0}],
        "transitions": [
            {"name": "propose", "label": labels("Propose"), "from": ["open"], "to": "proposal"},
            {"name": "win", "label": labels("Win"), "from": ["proposal"], "to": "won"},
            {"name": "lose", "label": labels("Lose"), "from": ["open", "proposal"],
             "to": "lost"}]}
HIDE = {"secret": "hidden"}
ROLES = (
    ADMIN_ROLE,
    role("clerk"),
    role("rep", entities={"deal": {"read": "own", "create": "own", "update": "own",
                                   "fields": HIDE},
                          "company": {"read": "all"}}),
    role("manager", entities={"deal": {"read": "all", "export": "all"},
                              "company": {"read": "all"}}),
    role("outsider", entities={"company": {"read": "all"}}),
)
BY_INDUSTRY = {
    "kind": "report", "name": "won_by_industry", "version": 1,
    "label": labels("Won by industry"), "entity": "deal", "date_field": "close_date",
    "group_by": ["company.industry", {"field": "close_date", "bucket": "quarter"}],
    "metrics": [
        {"op": "count"},
        {"op": "sum", "field": "amount", "name": "won", "where": {"stage": ["won"]}},
        {"op": "count", "name": "won_count", "where": {"stage": ["won"]}},
        {"op": "count", "name": "closed", "where": {"stage": ["won", "lost"]}},
        {"op": "ratio", "name": "win_rate", "numerator": "won_count",
         "denominator": "closed"},
        {"op": "avg", "field": "amount", "name": "average"},
    ],
}
FUNNEL = {"kind": "report", "name": "deal_funnel", "version": 1, "label": labels("Funnel"),
          "entity": "deal", "type": "funnel"}
FORECAST = {"kind": "report", "name": "deal_forecast", "version": 1,
            "label": labels("Forecast"), "entity": "deal", "type": "forecast",
            "group_by": ["owner"]}
LISTING = {"kind": "report", "name": "deal_list", "version": 1, "label": labels("List"),
           "entity": "deal", "type": "list",
           "columns": ["title", "amount", "company.name", "stage"]}
MATRIX = {"kind": "report", "name": "stage_by_industry", "version": 1,
          "label": labels("Matrix"), "entity": "deal", "type": "matrix",
          "group_by": ["company.industry"], "columns": ["stage"],
          "metrics": [{"op": "count"}]}
DOCUMENTS = (COMPANY, DEAL, FLOW, *ROLES, BY_INDUSTRY, FUNNEL, FORECAST, LISTING, MATRIX)

# title: (owner, industry, amount, final transitions, close date)
DEALS = {
    "A": ("rita", "tech", "100.00", ("propose", "win"), "2026-01-15"),
    "B": ("rita", "retail", "50.00", ("lose",), "2026-02-10"),
    "C": ("ron", "tech", "300.00", ("propose", "win"), "2026-04-02"),
    "D": ("ron", "tech", "70.00", ("propose",), "2026-05-20"),
    "E": ("root", "retail", "1000.00", (), "2026-03-31"),
}
USERS = {"rita": "rep", "ron": "rep", "max": "manager", "out": "outsider"}
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
        companies = {industry: self.post("company", {"name": industry, "industry": industry})
                     for industry in ("tech", "retail")}
        for title, (owner, industry, amount, moves, close) in DEALS.items():
            deal = self.post("deal", {"title": title, "owner": self.ids[owner],
                                      "company": companies[industry]["id"],
                                      "amount": {"amount": amount, "currency": "USD"},
                                      "close_date": close, "secret": 7})
            for move in moves:
                response = self.client.post(
                    f"/api/v1/records/deal/{deal['id']}/transitions/{move}",
                    headers=api.admin, json={})
                assert response.status_code == 200, response.get_json()

    def user_id(self, username: str) -> str:
        with self.api.web.app.app_context():
            return str(self.api.web.identity.appbuilder.sm.find_user(username=username).id)

    def post(self, entity_name: str, payload: dict[str, Any]) -> Any:
        response = self.client.post(f"/api/v1/records/{entity_name}", json=payload,
                                    headers=self.api.admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"]

    def run(self, user: str, name: str, **parameters: Any) -> Any:
        return self.client.post(f"/api/v1/reports/{name}/run", json=parameters,
                                headers=self.headers[user])

    def adhoc(self, user: str, report: dict[str, Any], query: str = "") -> Any:
        return self.client.post(f"/api/v1/reports/run{query}", json={"report": report},
                                headers=self.headers[user])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("reports")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, open_api(schema_url(url, schema), root,
                                                      *DOCUMENTS) as api:
            yield World(api)
        return
    with open_api(url, root, *DOCUMENTS) as api:
        yield World(api)


def _won(titles: set[str]) -> Decimal:
    return sum((Decimal(DEALS[t][2]) for t in titles if "win" in DEALS[t][3]), Decimal(0))


@pytest.mark.parametrize("user", ["rita", "ron", "max", "root"])
def test_a_summary_counts_and_sums_only_the_readable_records(world: World, user: str) -> None:
    response = world.run(user, "won_by_industry")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    visible = VISIBLE[user]
    assert body["totals"]["count"] == len(visible)
    assert Decimal(body["totals"]["won"] or 0) == _won(visible)
    for row in body["rows"]:
        titles = {t for t in visible if DEALS[t][1] == row["company_industry"]}
        assert row["close_date_quarter"].startswith("2026-Q")
        assert row["count"] == sum(1 for t in titles
                                   if _quarter(DEALS[t][4]) == row["close_date_quarter"])
    industries = {s["company_industry"]: s for s in body["subtotals"] if s["level"] == 1}
    for industry, subtotal in industries.items():
        titles = {t for t in visible if DEALS[t][1] == industry}
        assert subtotal["count"] == len(titles)
        assert Decimal(subtotal["won"] or 0) == _won(titles)


def _quarter(day: str) -> str:
    return f"2026-Q{(int(day[5:7]) - 1) // 3 + 1}"


def test_ratios_averages_and_buckets(world: World) -> None:
    body = world.run("max", "won_by_industry").get_json()

    tech = next(s for s in body["subtotals"] if s["company_industry"] == "tech")
    assert tech["win_rate"] == "1.0000"  # A and C won, nothing in tech lost
    assert body["totals"]["win_rate"] == "0.6667"  # 2 won of 3 closed
    assert body["totals"]["average"] == "304.00"  # 1520 / 5
    assert [r["close_date_quarter"] for r in body["rows"]
            if r["company_industry"] == "retail"] == ["2026-Q1"]


def test_the_period_owner_and_time_zone_parameters_filter(world: World) -> None:
    in_q1 = world.run("max", "won_by_industry",
                      period={"from": "2026-01-01", "to": "2026-03-31"}).get_json()
    own = world.run("rita", "won_by_industry", owner="$user").get_json()
    of_ron = world.run("max", "won_by_industry", owner=world.ids["ron"]).get_json()
    no_team = world.run("max", "won_by_industry", team="nobody")

    assert in_q1["totals"]["count"] == 3  # A, B and E close in the first quarter
    assert own["totals"]["count"] == 2
    assert of_ron["totals"]["count"] == 2
    assert pointers(problem(no_team, 422)) == {"/team"}


def test_forecast_weights_by_probability_per_owner(world: World) -> None:
    body = world.run("max", "deal_forecast").get_json()

    closed = body["totals"]["closed"]
    assert Decimal(closed["amount"]) == Decimal("400.00")
    assert Decimal(closed["weighted_amount"]) == Decimal("400.00")
    pipeline = body["totals"]["pipeline"]  # E open at 20 %
    assert Decimal(pipeline["weighted_amount"]) == Decimal("200.00")
    best = body["totals"]["best_case"]  # D in proposal at 50 %
    assert Decimal(best["weighted_amount"]) == Decimal("35.00")
    assert {r["owner"] for r in body["rows"]} == {world.ids["rita"], world.ids["ron"],
                                                  world.ids["root"]}


def test_the_funnel_counts_entries_with_conversion_and_drop_off(world: World) -> None:
    body = world.run("max", "deal_funnel").get_json()

    rows = {r["state"]: r for r in body["rows"]}
    assert [r["state"] for r in body["rows"]] == ["open", "proposal", "won"]
    assert rows["open"]["entered"] == 5
    assert rows["proposal"]["entered"] == 3
    assert rows["proposal"]["conversion"] == "0.6000"
    assert rows["proposal"]["drop_off"] == "0.4000"
    assert rows["won"]["entered"] == 2
    assert body["totals"] == {"entered": 5, "lost": 1}
    rita = {r["state"]: r["entered"] for r in world.run("rita", "deal_funnel").get_json()["rows"]}
    assert rita == {"open": 2, "proposal": 1, "won": 1}


def test_time_in_stage_counts_completed_stays(world: World) -> None:
    body = world.adhoc("max", {"entity": "deal", "type": "time_in_stage"}).get_json()

    rows = {r["state"]: r for r in body["rows"]}
    assert rows["open"]["stays"] == 4  # A, B, C, D left open; E is still there
    assert rows["proposal"]["stays"] == 2
    assert Decimal(rows["open"]["average_hours"]) >= 0


def test_a_matrix_spreads_the_column_dimension(world: World) -> None:
    body = world.run("max", "stage_by_industry").get_json()

    tech = next(r for r in body["rows"] if r["company_industry"] == "tech")
    assert tech["cells"] == {"won": {"count": 2}, "proposal": {"count": 1}}
    assert tech["total"] == {"count": 3}
    assert set(body["column_values"]) == {"won", "proposal", "lost", "open"}


def test_hidden_fields_can_be_neither_grouped_nor_summed(world: World) -> None:
    grouped = world.adhoc("rita", {"entity": "deal", "group_by": ["secret"],
                                  "metrics": [{"op": "count"}]})
    summed = world.adhoc("rita", {"entity": "deal",
                                 "metrics": [{"op": "sum", "field": "secret"}]})
    filtered = world.adhoc("rita", {"entity": "deal", "metrics": [{"op": "count"}],
                                   "filter": {"field": "secret", "op": "gt", "value": 1}})

    assert "/report/group_by/0" in pointers(problem(grouped, 422))
    assert "/report/metrics/0/field" in pointers(problem(summed, 422))
    assert "/report/filter" in {p[:14] for p in pointers(problem(filtered, 422))}
    allowed = world.adhoc("max", {"entity": "deal", "metrics": [
        {"op": "sum", "field": "secret"}]})
    assert allowed.get_json()["totals"]["sum_secret"] == 35


def test_a_referenced_record_the_user_may_not_read_groups_as_empty(world: World) -> None:
    report = {"entity": "deal", "group_by": ["company.name"], "metrics": [{"op": "count"}]}
    body = world.adhoc("max", report).get_json()

    assert {r["company_name"]: r["count"] for r in body["rows"]} == {"tech": 3, "retail": 2}


def test_the_outsider_neither_sees_nor_runs_deal_reports(world: World) -> None:
    listed = world.client.get("/api/v1/reports", headers=world.headers["out"]).get_json()

    assert listed["data"] == []
    problem(world.client.get("/api/v1/reports/won_by_industry",
                             headers=world.headers["out"]), 404)
    problem(world.run("out", "won_by_industry"), 404)
    problem(world.adhoc("out", {"entity": "deal", "metrics": [{"op": "count"}]}), 403)


def test_reports_are_listed_and_described(world: World) -> None:
    listed = world.client.get("/api/v1/reports", headers=world.headers["rita"]).get_json()
    names = [r["name"] for r in listed["data"]]
    described = world.client.get("/api/v1/reports/won_by_industry",
                                 headers=world.headers["rita"]).get_json()["data"]

    assert names == sorted(["won_by_industry", "deal_funnel", "deal_forecast", "deal_list",
                            "stage_by_industry"])
    assert described["group_by"] == ["company.industry",
                                     {"field": "close_date", "bucket": "quarter"}]


def test_bad_documents_and_parameters_are_422_naming_them(world: World) -> None:
    unknown = world.adhoc("max", {"entity": "deal", "group_by": ["company.sector"],
                                  "metrics": [{"op": "count"}]})
    bucket = world.adhoc("max", {"entity": "deal", "metrics": [{"op": "count"}],
                                 "group_by": [{"field": "title", "bucket": "month"}]})
    period = world.run("max", "won_by_industry", period="someday")
    zone = world.run("max", "won_by_industry", time_zone="Mars/Olympus")
    extra = world.run("max", "won_by_industry", colour="red")
    dates = world.run("max", "won_by_industry", period={"from": 20260101, "to": "2026-02-30"})
    backwards = world.run("max", "won_by_industry",
                          period={"from": "2026-03-01", "to": "2026-02-01"})
    adhoc_period = world.client.post("/api/v1/reports/run", headers=world.headers["max"], json={
        "report": {"entity": "deal", "metrics": [{"op": "count"}]},
        "parameters": {"period": "yesterday"}})

    assert "/report/group_by/0" in pointers(problem(unknown, 422))
    assert "/report/group_by/0/bucket" in pointers(problem(bucket, 422))
    assert pointers(problem(period, 422)) == {"/period"}
    assert pointers(problem(zone, 422)) == {"/time_zone"}
    assert pointers(problem(extra, 422)) == {"/colour"}
    assert pointers(problem(dates, 422)) == {"/period/from", "/period/to"}
    assert pointers(problem(backwards, 422)) == {"/period/to"}
    assert pointers(problem(adhoc_period, 422)) == {"/parameters/period"}


@pytest.mark.parametrize("user", ["rita", "max"])
def test_csv_and_xlsx_hold_the_whole_scoped_result(world: World, user: str) -> None:
    as_csv = world.client.post("/api/v1/reports/won_by_industry/run?format=csv",
                               json={}, headers=world.headers[user])
    as_xlsx = world.client.post("/api/v1/reports/won_by_industry/run?format=xlsx",
                                json={}, headers=world.headers[user])
    as_json = world.run(user, "won_by_industry").get_json()

    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(True))))
    assert sum(int(r["count"]) for r in rows) == len(VISIBLE[user])
    assert len(rows) == len(as_json["rows"])
    sheet = load_workbook(io.BytesIO(as_xlsx.data), read_only=True).active
    assert sheet is not None
    assert len(list(sheet.iter_rows())) == len(as_json["rows"]) + 1


def test_a_list_report_file_needs_an_export_grant(world: World) -> None:
    manager = world.client.post("/api/v1/reports/deal_list/run?format=csv", json={},
                                headers=world.headers["max"])
    rep = world.client.post("/api/v1/reports/deal_list/run?format=csv", json={},
                            headers=world.headers["rita"])

    rows = list(csv.DictReader(io.StringIO(manager.get_data(True))))
    assert sorted(r["title"] for r in rows) == sorted(DEALS)
    assert {r["company_name"] for r in rows} == {"tech", "retail"}
    assert {r["amount_currency"] for r in rows} == {"USD"}
    problem(rep, 403)


def test_the_openapi_document_describes_the_report_endpoints(world: World) -> None:
    document = world.client.get("/api/v1/openapi.json", headers=world.api.admin).get_json()

    assert {"/api/v1/reports", "/api/v1/reports/{name}", "/api/v1/reports/{name}/run",
            "/api/v1/reports/run"} <= set(document["paths"])
    assert "ReportResult" in document["components"]["schemas"]


def test_fiscal_quarters_and_the_time_zone_shape_the_buckets(world: World) -> None:
    service = world.api.web.app.extensions["metacrm"].services.reports
    by_quarter = {"entity": "deal", "metrics": [{"op": "count"}],
                  "group_by": [{"field": "close_date", "bucket": "quarter"}]}
    service.fiscal_start = 4
    try:
        fiscal = world.adhoc("max", by_quarter).get_json()
    finally:
        service.fiscal_start = 1
    far_east = "Pacific/Kiritimati"
    by_day = {"entity": "deal", "metrics": [{"op": "count"}],
              "group_by": [{"field": "created_at", "bucket": "day"}]}
    local = world.client.post("/api/v1/reports/run", headers=world.headers["max"], json={
        "report": by_day, "parameters": {"time_zone": far_east}}).get_json()

    assert {r["close_date_quarter"]: r["count"] for r in fiscal["rows"]} == {
        "FY2025-Q4": 3, "FY2026-Q1": 2}
    today_there = datetime.now(ZoneInfo(far_east)).date().isoformat()
    assert [r["created_at_day"] for r in local["rows"]] == [today_there]
