"""Report snapshots: taken by the scheduler task once per cron slot (full data), kept to
`keep`, and read over `GET /api/v1/reports/<name>/snapshots` only by users who read every
record of the report's entity and see all its fields (the permission matrix of that read
path is the last test here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, pointers, problem

from database_harness import postgres_schema, schema_url
from metacrm.access.subject import AccessSubject
from metacrm.reports.snapshots import TASK_NAME, ReportSnapshots, latest_slot
from metacrm.web.dashboard_widgets import WidgetPresenter
from web_harness import role

DEAL = entity("deal", field("title", required=True),
              field("stage", "picklist", choices=[
                  {"value": "open", "label": labels("Open")},
                  {"value": "won", "label": labels("Won")}]),
              field("secret", "integer"), title_field="title")
ROLES = (
    ADMIN_ROLE,
    role("manager", entities={"deal": {"read": "all"}}),
    role("ruled", entities={"deal": {"read": "all", "rules": [
        {"field": "stage", "op": "eq", "value": "open"}]}}),
    role("rep", entities={"deal": {"read": "own", "create": "own"}}),
    role("blind", entities={"deal": {"read": "all", "fields": {"stage": "hidden"}}}),
    role("outsider"),
    role("clerk"),
)
BY_STAGE = {"kind": "report", "name": "deals_by_stage", "version": 1,
            "label": labels("Deals by stage"), "entity": "deal", "group_by": ["stage"],
            "metrics": [{"op": "count"}],
            "snapshot": {"schedule": "0 0 * * *", "keep": 2}}
TRENDS = {"kind": "dashboard", "name": "trends", "version": 1, "label": labels("Trends"),
          "widgets": [{"report": "deals_by_stage", "chart": "trend", "metric": "count"}]}
USERS = {"max": "manager", "rae": "ruled", "rita": "rep", "bo": "blind", "out": "outsider"}


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.headers = {"root": api.admin}
        for user, role_name in USERS.items():
            self.headers[user] = api.user(user, role_name)

    @property
    def snapshots(self) -> ReportSnapshots:
        services = self.api.web.app.extensions["metacrm"].services
        snapshots: ReportSnapshots = services.report_snapshots
        return snapshots

    def add(self, title: str, stage: str) -> None:
        response = self.client.post("/api/v1/records/deal", headers=self.api.admin,
                                    json={"title": title, "stage": stage})
        assert response.status_code == 201, response.get_json()

    def read(self, user: str, name: str = "deals_by_stage") -> Any:
        return self.client.get(f"/api/v1/reports/{name}/snapshots",
                               headers=self.headers[user])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("snapshots")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    documents = (DEAL, *ROLES, BY_STAGE, TRENDS)
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, open_api(schema_url(url, schema), root,
                                                      *documents) as api:
            yield World(api)
        return
    with open_api(url, root, *documents) as api:
        yield World(api)


def _counts(snapshot: dict[str, Any]) -> dict[str, int]:
    return {row["stage"]: row["count"] for row in snapshot["rows"]}


def test_the_latest_slot_of_a_schedule() -> None:
    at = datetime(2026, 3, 5, 14, 30, 12, tzinfo=UTC)

    assert latest_slot("0 0 * * *", at) == datetime(2026, 3, 5, tzinfo=UTC)
    assert latest_slot("30 14 * * *", at) == datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    assert latest_slot("0 9 * * 1", at) == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_each_slot_is_taken_once_and_only_keep_are_kept(world: World) -> None:
    services = world.api.web.app.extensions["metacrm"].services
    assert services.periodic[TASK_NAME] is world.snapshots
    day = datetime(2026, 3, 1, 0, 0, 5, tzinfo=UTC)
    world.add("A", "open")
    world.snapshots(day)
    world.add("B", "won")
    world.snapshots(day + timedelta(hours=5))  # same slot: not taken again
    # another scheduler process (its own memory) does not take it either
    other = ReportSnapshots(world.snapshots.reports)
    model = other.reports.model()
    assert not other.take_due(model, model.reports["deals_by_stage"], day)
    world.snapshots(day + timedelta(days=1))
    world.add("C", "open")
    world.snapshots(day + timedelta(days=2, hours=3))

    body = world.read("max").get_json()["data"]
    assert [s["taken_at"] for s in body] == ["2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"]
    assert [_counts(s) for s in body] == [{"open": 1, "won": 1}, {"open": 2, "won": 1}]
    assert body[-1]["totals"]["count"] == 3


@pytest.mark.parametrize(("user", "status"), [("max", "ok"), ("rita", "forbidden")])
def test_a_trend_widget_draws_the_total_over_the_snapshots(world: World, user: str,
                                                           status: str) -> None:
    response = world.client.post("/api/v1/dashboards/trends/run", json={},
                                 headers=world.headers[user])

    assert response.status_code == 200, response.get_json()
    widget = response.get_json()["widgets"][0]
    assert widget["chart"] == "trend" and widget["status"] == status
    if status == "ok":  # the two snapshots kept by the test above
        assert [(r["taken_at"], r["count"]) for r in widget["result"]["rows"]] == [
            ("2026-03-02T00:00:00Z", 2), ("2026-03-03T00:00:00Z", 3)]
    else:
        assert "snapshots of report 'deals_by_stage'" in widget["detail"]


def test_a_trend_needs_a_report_with_snapshots(world: World) -> None:
    plain = {**BY_STAGE, "name": "plain"}
    del plain["snapshot"]
    for body in (plain, {**TRENDS, "name": "bad_trend", "widgets": [
            {"report": "plain", "chart": "trend"}]}):
        response = world.client.put(f"/api/v1/meta/{body['kind']}/{body['name']}",
                                    json=body, headers=world.api.admin)
        if body["kind"] == "report":
            assert response.status_code == 200, response.get_json()
    document = problem(response, 422)
    assert any(p.endswith("/widgets/0/chart") for p in pointers(document)), document


@pytest.mark.parametrize(("user", "status"), [
    ("root", 200), ("max", 200),
    ("rae", 403),  # all, but with rules: the snapshot counted records outside them
    ("rita", 403),  # own: the snapshot counted everybody's deals
    ("bo", 403),  # the grouped field is hidden from them
    ("out", 404),  # may not run the report: as if it did not exist
])
def test_the_permission_matrix_of_snapshot_reads(world: World, user: str,
                                                 status: int) -> None:
    response = world.read(user)

    if status == 200:
        assert response.status_code == 200
        return
    document = problem(response, status)
    if status == 403:
        assert "snapshots of report 'deals_by_stage'" in document["detail"]


def test_an_unknown_report_is_404_and_a_bad_schedule_422(world: World) -> None:
    problem(world.read("root", "nothing_here"), 404)
    bad = {**BY_STAGE, "name": "bad", "snapshot": {"schedule": "61 * * * *"}}
    response = world.client.put("/api/v1/meta/report/bad", json=bad,
                                headers=world.api.admin)
    document = problem(response, 422)
    assert any(p.endswith("/snapshot/schedule") for p in pointers(document)), document


def test_the_openapi_document_describes_the_snapshot_read(world: World) -> None:
    spec = world.client.get("/api/v1/openapi.json", headers=world.api.admin).get_json()

    operation = spec["paths"]["/api/v1/reports/{name}/snapshots"]["get"]
    assert set(operation["responses"]) >= {"200", "403", "404"}
    assert "ReportSnapshot" in spec["components"]["schemas"]


def test_the_screen_draws_a_trend_as_a_line_of_dated_points(world: World) -> None:
    services = world.api.web.app.extensions["metacrm"].services
    subject = AccessSubject(user_id=None, username="root", roles=("boss",), is_admin=True)
    dashboard = services.dashboards.definition(subject, "trends")
    run = services.dashboards.run(subject, dashboard, {})
    with world.api.web.app.test_request_context("/app/dashboards/trends"):
        view = WidgetPresenter(services.dashboards, services.dashboards.model(),
                               subject).view(run.widgets[0], 0)

    assert view.spec is not None and view.spec["type"] == "line"
    assert view.spec["labels"] == ["2026-03-02", "2026-03-03"]
    assert view.spec["values"] == [2.0, 3.0]
    assert view.spec["links"] == [None, None]  # no drill-down into the past
