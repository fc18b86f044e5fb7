"""Tickets keep SLA clocks in business time: the issue's "done when" example, pauses,
first response and resolution stamps, milestones firing once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from desk_harness import Desk, desk_documents

from metacrm.service_desk.clocks import read_ticket
from metacrm.service_desk.milestones import MilestoneJob
from metacrm.storage.system_tables import notifications


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


FRIDAY_5PM = utc(2026, 12, 4, 17)


def high_priority(desk: Desk, **values: Any) -> dict[str, Any]:
    # the shipped standard_support policy: 240 business minutes to respond to high tickets
    desk.now = FRIDAY_5PM
    return desk.create(priority="high", queue="support", owner="17", **values)


def test_friday_five_pm_four_business_hours_is_due_monday_noon(desk: Desk) -> None:
    ticket = high_priority(desk)

    assert ticket["status"] == "new"
    assert ticket["sla_policy"] == "standard_support"
    assert ticket["sla_response_due"] == "2026-12-07T12:00:00Z"
    assert ticket["sla_breached"] is False


def test_a_pending_customer_pause_moves_the_due_time_by_its_business_time(desk: Desk) -> None:
    ticket = high_priority(desk)
    # waiting for the customer Monday 09:00-11:00: two business hours. Noon + 2 business
    # hours is 15:00, as the 13:00-14:00 break is not working time (the "14:00"
    # would only hold without the break; see docs/service.md)
    paused = desk.move(ticket["id"], "wait_for_customer", utc(2026, 12, 7, 9))
    assert paused["sla_response_due"] is None  # not known while the clock stands still

    resumed = desk.move(ticket["id"], "start_work", utc(2026, 12, 7, 11))

    assert resumed["sla_response_due"] == "2026-12-07T15:00:00Z"
    clocks = read_ticket(desk.services.records.runtime().model, resumed, desk.now)
    assert clocks is not None
    response = clocks.readings["first_response"]
    assert response.paused_for.total_seconds() == 2 * 3600
    assert response.remaining.total_seconds() == 3 * 3600


def test_the_first_reply_stops_the_response_clock(desk: Desk) -> None:
    ticket = high_priority(desk)
    desk.now = utc(2026, 12, 7, 10)

    answered = desk.services.records.update(desk.admin, "ticket", ticket["id"],
                                            {"first_response_at": "2026-12-07T10:00:00Z"})

    assert answered["sla_response_due"] is None and answered["sla_breached"] is False
    assert answered["sla_resolution_due"] is not None


def test_a_breach_fires_its_actions_once(desk: Desk) -> None:
    ticket = high_priority(desk)
    job = MilestoneJob(desk.services.records, desk.services.teams)
    model = desk.services.records.runtime().model
    record = desk.get(ticket["id"])

    assert job.fire(model, record, utc(2026, 12, 7, 10, 30)) == []
    assert job.fire(model, desk.get(ticket["id"]), utc(2026, 12, 7, 11, 30)) == [
        "first_response:warning"]
    fired = job.fire(model, desk.get(ticket["id"]), utc(2026, 12, 7, 12, 1))
    breached = desk.get(ticket["id"])

    assert fired == ["first_response:breach"]
    assert breached["sla_breached"] is True
    assert breached["sla_response_result"] == "breached"  # the tick writes the outcome too
    assert breached["priority"] == "urgent"  # raise_priority on breach
    # urgent tickets have tighter targets: the next tick reads the clocks anew and fires
    # what fell due under them (the first escalation level, the resolution warning)
    later = job.fire(model, breached, utc(2026, 12, 7, 12, 30))
    assert later == ["first_response:escalation:1", "resolution:warning"]
    assert job.fire(model, desk.get(ticket["id"]), utc(2026, 12, 7, 12, 31)) == []
    assert set(desk.get(ticket["id"])["sla_fired"]) == {
        "first_response:warning", "first_response:breach", "first_response:escalation:1",
        "resolution:warning"}
    with desk.services.engine.connect() as conn:
        sources = conn.execute(sa.select(notifications.c.source).where(
            notifications.c.record_id == ticket["id"], notifications.c.user_id == "17",
            notifications.c.source.startswith("sla:"))
        ).scalars().all()
    assert f"sla:{ticket['id']}:first_response:breach" in sources
    assert len(sources) == len(set(sources)) == 4  # owner: once per milestone


def test_resolving_stamps_the_time_and_reopening_clears_it(desk: Desk) -> None:
    ticket = high_priority(desk)
    resolved = desk.move(ticket["id"], "resolve", utc(2026, 12, 7, 10))
    assert resolved["resolved_at"] == "2026-12-07T10:00:00Z"
    assert resolved["sla_resolution_due"] is None

    reopened = desk.move(ticket["id"], "reopen", utc(2026, 12, 8, 10))

    assert reopened["resolved_at"] is None and reopened["status"] == "open"
    assert reopened["sla_resolution_due"] is not None


def test_a_customer_reply_reopens_a_resolved_ticket_and_resumes_a_waiting_one(
        desk: Desk) -> None:
    replies = desk.services.ticket_replies
    waiting = high_priority(desk)
    desk.move(waiting["id"], "wait_for_customer", utc(2026, 12, 7, 9))
    resolved = high_priority(desk)
    desk.move(resolved["id"], "resolve", utc(2026, 12, 7, 9))
    fresh = high_priority(desk)
    desk.now = utc(2026, 12, 7, 11)

    assert replies.received(waiting["id"]) == "start_work"
    assert replies.received(resolved["id"]) == "reopen"
    assert replies.received(fresh["id"]) is None

    resumed = desk.get(waiting["id"])
    assert resumed["status"] == "open"
    assert resumed["sla_response_due"] == "2026-12-07T15:00:00Z"  # paused 09:00-11:00
    reopened = desk.get(resolved["id"])
    assert reopened["status"] == "open" and reopened["resolved_at"] is None


def test_a_calendar_change_recomputes_the_due_times_on_the_next_tick(desk: Desk) -> None:
    ticket = high_priority(desk)
    job = MilestoneJob(desk.services.records, desk.services.teams)
    calendar = dict(next(d for d in desk_documents() if d.name == "support_hours").body)
    try:
        # the desk moves to Moscow: Friday 17:00 UTC is 20:00 there, after hours, so the
        # four business hours are Monday 09:00-13:00 Moscow time, 06:00-10:00 UTC
        desk.services.metadata.apply(desk_documents(support_hours={
            **calendar, "time_zone": "Europe/Moscow"}), author="test")
        job.run(utc(2026, 12, 5, 12))
        assert desk.get(ticket["id"])["sla_response_due"] == "2026-12-07T10:00:00Z"
    finally:
        desk.services.metadata.apply(desk_documents(), author="test")
    job.run(utc(2026, 12, 5, 12))
    assert desk.get(ticket["id"])["sla_response_due"] == "2026-12-07T12:00:00Z"


def test_the_scheduler_runs_the_job_once_a_minute(desk: Desk) -> None:
    ticket = high_priority(desk)
    job = MilestoneJob(desk.services.records, desk.services.teams)
    job(utc(2026, 12, 7, 11, 30))  # the warning falls due at 11:00
    assert "first_response:warning" in desk.get(ticket["id"])["sla_fired"]
    later = high_priority(desk)

    job(utc(2026, 12, 7, 11, 30, 30))  # within the minute: nothing runs

    assert desk.get(later["id"])["sla_fired"] is None
