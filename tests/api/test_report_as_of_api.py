""""As of" runs over HTTP: `POST /api/v1/reports/<name>/run` with `as_of` rebuilds a
summary or list report from the audit trail — the deals, their stages and amounts as they
stood then — under the caller's CURRENT scope and field security (the permission matrix of
this read path is `test_as_of_permission_matrix`). The roll-back of today's records through
the trail's rows after the instant is checked on its own first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, problem

from database_harness import postgres_schema, schema_url
from metacrm.access.as_of_reads import roll_back
from web_harness import role

COMPANY = entity("company", field("name", required=True), field("industry"),
                 title_field="name")
DEAL = entity(
    "deal",
    field("title", required=True),
    field("company", "reference", entity="company"),
    field("stage", "state", pipeline="deal_flow"),
    field("amount", "money", currency="USD"),
    title_field="title",
)
FLOW = {"kind": "pipeline", "name": "deal_flow", "version": 1, "label": labels("Flow"),
        "entity": "deal", "initial_state": "open",
        "states": [{"name": "open", "label": labels("Open"), "probability": 20},
                   {"name": "won", "label": labels("Won"), "category": "won",
                    "probability": 100}],
        "transitions": [{"name": "win", "label": labels("Win"), "from": ["open"],
                         "to": "won"}]}
ROLES = (
    ADMIN_ROLE,
    role("rep", entities={"deal": {"read": "own", "create": "own", "update": "own"}}),
    role("manager", entities={"deal": {"read": "all", "export": "all"},
                              "company": {"read": "all"}}),
    role("blind", entities={"deal": {"read": "all", "fields": {"amount": "hidden"}}}),
    role("outsider"),
    role("clerk"),
)
BY_STAGE = {"kind": "report", "name": "by_stage", "version": 1, "label": labels("By stage"),
            "entity": "deal", "group_by": ["stage"],
            "metrics": [{"op": "count"}, {"op": "sum", "field": "amount", "name": "total"}]}
LISTING = {"kind": "report", "name": "deal_list", "version": 1, "label": labels("List"),
           "entity": "deal", "type": "list", "columns": ["title", "stage", "amount"]}
FUNNEL = {"kind": "report", "name": "funnel", "version": 1, "label": labels("Funnel"),
          "entity": "deal", "type": "funnel"}
BY_INDUSTRY = {"kind": "report", "name": "by_industry", "version": 1,
               "label": labels("By industry"), "entity": "deal",
               "group_by": ["company.industry"], "metrics": [{"op": "count"}]}
USERS = {"rita": "rep", "ron": "rep", "max": "manager", "bo": "blind", "out": "outsider"}


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


class World:
    """Deals A, B (rita's, of company X: tech), D (ron's, of company Y: retail), E (ron's:
    rita's until after the instant); after the instant A is won at 500, B deleted, C
    created, X turned to media and D moved to X."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.headers = {"root": api.admin}
        for user, role_name in USERS.items():
            self.headers[user] = api.user(user, role_name)
        self.ids = {name: self.user_id(name) for name in [*USERS, "root"]}
        company = {name: self.created("company", {"name": name, "industry": industry})
                   for name, industry in (("X", "tech"), ("Y", "retail"))}
        deal = {title: self.post(title, owner, amount, company.get(of))
                for title, owner, amount, of in (
                    ("A", "rita", "100.00", "X"), ("B", "rita", "50.00", "X"),
                    ("D", "ron", "20.00", "Y"), ("E", "rita", "10.00", None))}
        time.sleep(0.05)
        self.instant = datetime.now(UTC)
        time.sleep(0.05)
        self.patch(deal["A"], {"amount": usd("500.00")})
        response = self.client.post(f"/api/v1/records/deal/{deal['A']}/transitions/win",
                                    headers=api.admin, json={})
        assert response.status_code == 200, response.get_json()
        self.patch(deal["E"], {"owner": self.ids["ron"]})
        response = self.client.delete(f"/api/v1/records/deal/{deal['B']}", headers=api.admin)
        assert response.status_code == 204, response.get_data(True)
        self.post("C", "ron", "300.00")
        self.patch(company["X"], {"industry": "media"}, "company")
        self.patch(deal["D"], {"company": company["X"]})

    def user_id(self, username: str) -> str:
        with self.api.web.app.app_context():
            return str(self.api.web.identity.appbuilder.sm.find_user(username=username).id)

    def post(self, title: str, owner: str, amount: str, company: str | None = None) -> str:
        return self.created("deal", {"title": title, "owner": self.ids[owner],
                                     "amount": usd(amount), "company": company})

    def created(self, name: str, values: dict[str, Any]) -> str:
        response = self.client.post(f"/api/v1/records/{name}", headers=self.api.admin,
                                    json=values)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def patch(self, record_id: str, changes: dict[str, Any], name: str = "deal") -> None:
        response = self.client.patch(f"/api/v1/records/{name}/{record_id}", json=changes,
                                     headers=self.api.admin)
        assert response.status_code == 200, response.get_json()

    def run(self, user: str, name: str = "by_stage", **parameters: Any) -> Any:
        return self.client.post(f"/api/v1/reports/{name}/run", json=parameters,
                                headers=self.headers[user])

    def as_of(self, user: str, name: str = "by_stage", **parameters: Any) -> Any:
        return self.run(user, name, as_of=self.instant.isoformat(), **parameters)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("as_of")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    documents = (COMPANY, DEAL, FLOW, *ROLES, BY_STAGE, BY_INDUSTRY, LISTING, FUNNEL)
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, open_api(schema_url(url, schema), root,
                                                      *documents) as api:
            yield World(api)
        return
    with open_api(url, root, *documents) as api:
        yield World(api)


def _figures(body: dict[str, Any]) -> dict[str, tuple[int, str | None]]:
    return {row["stage"]: (row["count"], row["total"]) for row in body["rows"]}


def _row(record: str, action: str, field_name: str | None, old: Any) -> SimpleNamespace:
    return SimpleNamespace(record_id=record, action=action, field=field_name, old=old)


def test_the_roll_back_undoes_the_rows_after_the_instant() -> None:
    today = {"kept": {"stage": "won", "amount": "3"}, "late": {"stage": "open"},
             "untouched": {"stage": "open", "amount": "9"}}
    after_the_instant = [  # newest first
        _row("gone", "deleted", "stage", "open"),    # one row per final value
        _row("gone", "deleted", "amount", "2"),
        _row("gone", "updated", "amount", "1"),
        _row("late", "created", None, None),         # the whole-record create
        _row("kept", "transitioned", "stage", "open"),
        _row("kept", "updated", "amount", "1"),
        _row("kept", "updated", "secret", "x"),      # not wanted: not read
        _row("older", "created", "stage", None),     # the older per-field create form
        _row("older", "created", "amount", None),
    ]

    then = roll_back(today, after_the_instant, {"stage", "amount"}, lambda _, v: v)

    assert {i: (r.alive, r.values) for i, r in then.items() if r.alive} == {
        "kept": (True, {"stage": "open", "amount": "1"}),
        "untouched": (True, {"stage": "open", "amount": "9"}),
        "gone": (True, {"stage": "open", "amount": "1"}),
    }
    assert not then["late"].alive and not then["older"].alive
    assert then["kept"].changed_since and not then["untouched"].changed_since


def test_as_of_before_a_change_gives_the_old_figures(world: World) -> None:
    now = world.run("max")
    then = world.as_of("max")

    assert now.status_code == then.status_code == 200, (now.get_json(), then.get_json())
    assert _figures(now.get_json()) == {"open": (3, "330.00"), "won": (1, "500.00")}
    # then: A open at 100, B not yet deleted, C not yet created
    assert _figures(then.get_json()) == {"open": (4, "180.00")}
    assert then.get_json()["totals"] == {"count": 4, "total": "180.00"}


def test_as_of_list_shows_the_records_as_they_were(world: World) -> None:
    response = world.as_of("max", "deal_list")

    assert response.status_code == 200, response.get_json()
    rows = {row["title"]: (row["stage"], row["amount"]) for row in response.get_json()["rows"]}
    assert rows == {"A": ("open", usd("100.00")), "B": ("open", usd("50.00")),
                    "D": ("open", usd("20.00")), "E": ("open", usd("10.00"))}


def test_as_of_list_gives_the_times_and_owners_of_then(world: World) -> None:
    report = {"kind": "report", "name": "stamps", "version": 1, "label": labels("Stamps"),
              "entity": "deal", "type": "list",
              "columns": ["title", "owner", "created_at", "updated_at", "company.industry"]}
    response = world.client.post("/api/v1/reports/run", headers=world.headers["max"], json={
        "report": report, "parameters": {"as_of": world.instant.isoformat()}})

    assert response.status_code == 200, response.get_json()
    rows = {row["title"]: row for row in response.get_json()["rows"]}
    assert sorted(rows) == ["A", "B", "D", "E"]
    for title, row in rows.items():  # A and E changed since, B deleted since: as created
        assert row["created_at"] == row["updated_at"], title
        assert datetime.fromisoformat(row["updated_at"]) < world.instant, title
    assert rows["E"]["owner"] == world.ids["rita"]  # reassigned to ron after the instant
    assert {t: row["company.industry"] for t, row in rows.items()} == {
        "A": "tech", "B": "tech", "D": "retail", "E": None}


def test_as_of_groups_through_a_reference_as_both_records_were(world: World) -> None:
    def industries(user: str, **parameters: Any) -> dict[str | None, int]:
        response = world.run(user, "by_industry", **parameters)
        assert response.status_code == 200, response.get_json()
        return {row["company_industry"]: row["count"] for row in response.get_json()["rows"]}

    then = {"as_of": world.instant.isoformat()}
    assert industries("max") == {"media": 2, None: 2}  # A and D at X, now media
    # then: X was tech with A and B, D was at Y (retail), E had no company
    assert industries("max", **then) == {"tech": 2, "retail": 1, None: 1}
    assert industries("root", **then) == {"tech": 2, "retail": 1, None: 1}
    # rita may not read companies: refused naming the path, as in a live run
    for parameters in ({}, then):
        response = world.run("rita", "by_industry", **parameters)
        assert "/group_by/0" in {e["pointer"] for e in problem(response, 422)["errors"]}


def test_bad_as_of_is_refused_with_its_place(world: World) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for value in ("yesterday", "2026-03-01T00:00:00", future, 5):
        body = problem(world.run("max", as_of=value), 422)
        assert [e["pointer"] for e in body["errors"]] == ["/as_of"], (value, body)
    body = problem(world.as_of("max", "funnel"), 422)
    assert "cannot be run as of" in body["errors"][0]["message"]
    unknown = {"kind": "report", "name": "odd", "version": 1, "label": labels("Odd"),
               "entity": "deal", "group_by": ["company.size"], "metrics": [{"op": "count"}]}
    response = world.client.post("/api/v1/reports/run", headers=world.headers["max"], json={
        "report": unknown, "parameters": {"as_of": world.instant.isoformat()}})
    assert "/report/group_by/0" in {e["pointer"] for e in problem(response, 422)["errors"]}


MATRIX: dict[str, Any] = {
    # user: (status, figures as of the instant); the scope is today's
    "root": (200, {"open": (4, "180.00")}),
    "max": (200, {"open": (4, "180.00")}),
    "rita": (200, {"open": (1, "100.00")}),   # A; B deleted since, E is ron's now
    "ron": (200, {"open": (2, "30.00")}),     # D, and E (his now, rita's then)
    "bo": (422, "/metrics/1/field"),          # the summed amount is hidden from bo
    "out": (404, None),                       # may not read deals: no such report
}


def test_as_of_permission_matrix(world: World) -> None:
    for user, (status, expected) in MATRIX.items():
        response = world.as_of(user)
        assert response.status_code == status, (user, response.get_json())
        if status == 200:
            assert _figures(response.get_json()) == expected, user
        elif status == 422:
            assert expected in {e["pointer"] for e in response.get_json()["errors"]}, user
    # a rep's as-of list needs the export grant, like a live list
    assert world.as_of("rita", "deal_list").status_code == 403


def test_the_sql_roll_back_agrees_with_the_python_one(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Summary runs over own fields are grouped in SQL (`as_of_sql`); the same runs forced
    through the Python roll-back must give the same rows and totals, for every scope (the
    rep's own deals, a deal reassigned and one deleted since, a hidden amount) and for
    instants before, between and after the changes."""
    from metacrm.access import scoped_aggregates

    instants = {"between": world.instant.isoformat(),
                "before": (world.instant - timedelta(hours=1)).isoformat(),
                "after": datetime.now(UTC).isoformat()}  # a future instant is refused
    reports = {"by_stage": {}, "by_title": {"report": {
        "kind": "report", "name": "by_title", "version": 1, "label": labels("By title"),
        "entity": "deal", "group_by": ["title"],
        "metrics": [{"op": "count"}, {"op": "max", "field": "amount", "name": "top"},
                    {"op": "count_distinct", "field": "stage", "name": "stages"}]}}}
    sql_calls: list[str] = []
    real = scoped_aggregates.ScopedAggregates.aggregate_as_of

    def spied(self: Any, conn: Any, entity: str, *args: Any) -> Any:
        sql_calls.append(entity)
        return real(self, conn, entity, *args)

    def answers() -> dict[tuple[str, str, str], tuple[int, Any]]:
        found = {}
        for user in ("root", "max", "rita", "ron", "bo"):
            for when, instant in instants.items():
                for name, extra in reports.items():
                    if "report" in extra:
                        response = world.client.post(
                            "/api/v1/reports/run", headers=world.headers[user],
                            json={**extra, "parameters": {"as_of": instant}})
                    else:
                        response = world.run(user, name, as_of=instant)
                    body = response.get_json()
                    found[(user, when, name)] = (response.status_code,
                                                 (body.get("rows"), body.get("totals"))
                                                 if response.status_code == 200 else None)
        return found

    monkeypatch.setattr(scoped_aggregates.ScopedAggregates, "aggregate_as_of", spied)
    in_sql = answers()
    assert len(sql_calls) >= 2 * len(instants) * 4, "runs missed the SQL roll-back"
    monkeypatch.setattr(scoped_aggregates.ScopedAggregates, "as_of_sql_fields",
                        lambda *_: None)
    in_python = answers()

    assert in_sql == in_python
    assert in_sql[("max", "between", "by_stage")][1] == (
        [{"stage": "open", "count": 4, "total": "180.00"}], {"count": 4, "total": "180.00"})
