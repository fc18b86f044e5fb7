"""The shipped `service_overview` dashboard on a small fixed week of tickets (the support
calendar: Mon–Fri 09:00–18:00 UTC with a 13:00–14:00 break): open tickets by queue and
priority, SLA compliance per target, response and resolution times in business hours
(average and median) and the satisfaction trend by month — every figure worked out by
hand below.

| ticket | queue, priority | created | first response | resolved |
| --- | --- | --- | --- | --- |
| A (Ann's) | support, high | Mon 09:00 | Mon 10:00 (1 h, met: 4 h) | Mon 15:00 (5 h) |
| B | support, high | Mon 09:00 | Mon 15:00 (5 h, breached) | Tue 10:00 (9 h) |
| C (Ann's) | billing, normal | Mon 16:00 | Tue 11:00 (4 h, met: 8 h) | — |
| D | billing, urgent | Mon 09:00 | — | — |
| E | support, low | Mon 09:00 | — (waiting for the customer) | — |
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
from desk_harness import Desk, desk_documents

from database_harness import postgres_schema, schema_url
from metacrm.access.subject import AccessSubject
from metacrm.composition import build_services
from metacrm.kernel.errors import NotFound
from web_harness import settings_for


def utc(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


MON, TUE = 7, 8
ANN, BOB, CYD = "21", "22", "23"
"""Service agents: Ann owns tickets A and C; Bob is in Ann's team; Cyd in none."""


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """A fresh desk (no other test's tickets) holding the week above."""
    root = tmp_path_factory.mktemp("service_dashboard")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'w.db'}"
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        services = build_services(settings_for(url, root))
        desk = Desk(services)
        services.clock = lambda: desk.now
        try:
            services.metadata.apply(desk_documents(), author="test")
            _the_week(desk)
            yield desk
        finally:
            services.close()


def _ticket(desk: Desk, at: datetime, queue: str, priority: str, owner: str = "1") -> str:
    desk.now = at
    return str(desk.create(queue=queue, priority=priority, owner=owner)["id"])


def _respond(desk: Desk, ticket_id: str, at: datetime) -> None:
    desk.now = at
    desk.services.records.update(desk.admin, "ticket", ticket_id,
                                 {"first_response_at": at.isoformat()})


def _the_week(desk: Desk) -> None:
    a = _ticket(desk, utc(MON, 9), "support", "high", owner=ANN)
    b = _ticket(desk, utc(MON, 9), "support", "high")
    c = _ticket(desk, utc(MON, 16), "billing", "normal", owner=ANN)
    _ticket(desk, utc(MON, 9), "billing", "urgent")
    e = _ticket(desk, utc(MON, 9), "support", "low")
    desk.move(e, "wait_for_customer", utc(MON, 9))
    _respond(desk, a, utc(MON, 10))
    desk.move(a, "resolve", utc(MON, 15))
    _respond(desk, b, utc(MON, 15))
    desk.move(b, "resolve", utc(TUE, 10))
    _respond(desk, c, utc(TUE, 11))
    for ticket_id, score, answered in ((a, 4, "2026-11-20T10:00:00Z"),
                                       (b, 2, "2026-11-25T10:00:00Z"),
                                       (c, 5, "2026-12-08T12:00:00Z")):
        desk.services.records.create(desk.admin, "csat_response", {
            "ticket": ticket_id, "score": score, "answered_at": answered})


def run(desk: Desk, subject: AccessSubject | None = None) -> dict[str, Any]:
    service = desk.services.dashboards
    who = subject or desk.admin
    answer = service.run(who, service.definition(who, "service_overview"), {}).to_json()
    return {(w["report"], w["metric"], w["chart"]): w for w in answer["widgets"]}


def test_each_ticket_stores_its_business_hours_and_target_outcomes(week: Desk) -> None:
    rows = week.services.records.list(week.admin, "ticket", sort=["created_at"],
                                      limit=10).records
    found = {(r["queue"], r["priority"]): (r["first_response_hours"], r["resolution_hours"],
                                           r["sla_response_result"],
                                           r["sla_resolution_result"]) for r in rows}

    assert found == {
        ("support", "high"): found[("support", "high")],  # two of them, checked below
        ("billing", "normal"): ("4.00", None, "met", None),
        ("billing", "urgent"): (None, None, None, None),
        ("support", "low"): (None, None, None, None)}
    highs = sorted((r["first_response_hours"], r["resolution_hours"], r["sla_response_result"],
                    r["sla_resolution_result"]) for r in rows if r["priority"] == "high")
    assert highs == [("1.00", "5.00", "met", "met"), ("5.00", "9.00", "breached", "met")]


def test_open_tickets_by_queue_and_priority(week: Desk) -> None:
    widget = run(week)[("open_tickets_by_queue", "open_tickets", "table")]

    assert widget["status"] == "ok"
    cells = {(row["queue"], column): cell["open_tickets"]
             for row in widget["result"]["rows"] for column, cell in row["cells"].items()}
    assert {key: count for key, count in cells.items() if count} == {
        ("billing", "normal"): 1, ("billing", "urgent"): 1, ("support", "low"): 1}


def test_sla_compliance_counts_met_against_breached_targets(week: Desk) -> None:
    widgets = run(week)

    response = widgets[("sla_compliance_by_priority", "response_compliance", "number")]
    resolution = widgets[("sla_compliance_by_priority", "resolution_compliance", "number")]
    assert response["result"]["totals"]["response_compliance"] == "0.6667"  # A, C of A, B, C
    assert resolution["result"]["totals"]["resolution_compliance"] == "1.0000"  # A, B
    by_priority = {row["priority"]: (row["response_compliance"], row["response_due"])
                   for row in response["result"]["rows"]}
    assert by_priority["high"] == ("0.5000", 2) and by_priority["normal"] == ("1.0000", 1)
    assert by_priority["urgent"] == (None, 0)  # D's clock still runs: not counted yet


def test_response_and_resolution_times_in_business_hours(week: Desk) -> None:
    widget = run(week)[("ticket_times_by_priority", "average_response_hours", "bar")]

    rows = {row["priority"]: row for row in widget["result"]["rows"]}
    assert (rows["high"]["average_response_hours"],
            rows["high"]["average_resolution_hours"]) == ("3.00", "7.00")
    assert rows["normal"]["average_response_hours"] == "4.00"
    assert widget["result"]["totals"]["average_response_hours"] == "3.33"  # (1 + 5 + 4) / 3
    assert widget["result"]["totals"]["median_response_hours"] == "4.00"  # of 1, 4, 5
    assert rows["high"]["median_response_hours"] == "3.00"  # of 1 and 5: their mean
    assert widget["result"]["totals"]["median_resolution_hours"] == "7.00"  # of 5 and 9
    assert rows["normal"]["median_resolution_hours"] is None  # C is not resolved
    assert widget["result"]["totals"]["resolved_tickets"] == 2


def test_the_satisfaction_trend_by_month(week: Desk) -> None:
    widget = run(week)[("csat_by_month", "avg_score", "line")]

    assert [(row["answered_at_month"], row["avg_score"], row["count"])
            for row in widget["result"]["rows"]] == [("2026-11", "3.00", 2),
                                                     ("2026-12", "5.00", 1)]


def agent(user_id: str) -> AccessSubject:
    """A `service_agent` with the team memberships the sign-in would give them."""
    team = ("tier1",) if user_id in (ANN, BOB) else ()
    return AccessSubject(user_id=user_id, username=f"agent{user_id}", roles=("service_agent",),
                         team_ids=team, team_user_ids=(ANN, BOB) if team else ())


def test_agents_see_the_figures_of_their_team_s_tickets_only(week: Desk) -> None:
    """Matrix rows of the dashboard: each widget counts what the user may read — Bob (Ann's
    team) A and C; Cyd (no team) nothing; a role it is not shared with does not see it."""
    bob, cyd = run(week, agent(BOB)), run(week, agent(CYD))

    compliance = ("sla_compliance_by_priority", "response_compliance", "number")
    assert bob[compliance]["result"]["totals"]["response_compliance"] == "1.0000"  # A, C
    assert bob[("ticket_times_by_priority", "average_response_hours", "bar")]["result"][
        "totals"]["average_response_hours"] == "2.50"  # (1 + 4) / 2
    assert [row["queue"] for row in bob[("open_tickets_by_queue", "open_tickets", "table")][
        "result"]["rows"]] == ["billing"]  # C
    assert cyd[compliance]["result"]["totals"]["response_compliance"] is None
    assert cyd[("open_tickets_by_queue", "open_tickets", "table")]["result"]["rows"] == []
    stranger = AccessSubject(user_id="24", username="rep", roles=("desk_agent",))
    with pytest.raises(NotFound):
        week.services.dashboards.definition(stranger, "service_overview")
