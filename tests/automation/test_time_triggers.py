"""Time and cron triggers: the scheduler's periodic tasks fire each due record (time) and
each cron slot (scheduled) once — also when two schedulers tick at the same moment — and
look back at most a day."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trigger_world import BOSS, TriggerWorld, create_task, trigger, trigger_world

from metacrm.automation.install import CRON_TASK, TIME_TASK
from metacrm.automation.schedule import CronTriggers
from metacrm.fieldtypes.temporal import datetime_to_json

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
NEW_ONLY = {"field": "status", "op": "eq", "value": "new"}


def at(moment: datetime) -> str:
    return datetime_to_json(moment)


def subjects(world: TriggerWorld) -> dict[str, list[str]]:
    """Task subjects by lead name."""
    names = {lead["id"]: lead["name"] for lead in
             world.services.records.list(BOSS, "lead", limit=500).records}
    found: dict[str, list[str]] = {}
    for task in world.tasks():
        found.setdefault(names[task["lead"]], []).append(task["subject"])
    return {name: sorted(tasks) for name, tasks in sorted(found.items())}


def side_by_side(*calls: Callable[[], None]) -> None:
    """Run the calls in threads released at the same moment; re-raise their errors."""
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        start.wait()
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_a_time_trigger_fires_once_for_each_record_that_fell_due(
        isolated_database_url: str, tmp_path: Path) -> None:
    remind = trigger("remind", "time", create_task("Call now"), date_field="contact_at",
                     offset={"hours": 1}, condition=NEW_ONLY)
    with trigger_world(isolated_database_url, tmp_path, remind) as world:
        world.create_lead("due", status="new", contact_at=at(NOW - timedelta(hours=2)))
        world.create_lead("years_ago", status="new", contact_at=at(NOW - timedelta(days=900)))
        world.create_lead("two_days_ago", status="new",
                          contact_at=at(NOW - timedelta(days=2)))
        world.create_lead("not_yet", status="new", contact_at=at(NOW - timedelta(minutes=30)))
        world.create_lead("contacted", status="contacted",
                          contact_at=at(NOW - timedelta(hours=2)))
        world.create_lead("no_date", status="new")
        tick = world.services.periodic[TIME_TASK]

        tick(NOW)
        tick(NOW + timedelta(minutes=1))
        assert subjects(world) == {"due": ["Call now"]}

        tick(NOW + timedelta(minutes=31))  # not_yet: contact_at + 1 hour has come
        assert subjects(world) == {"due": ["Call now"], "not_yet": ["Call now"]}
        assert [run.status for run in world.runs("remind")] == ["ok", "ok"]


def test_a_new_due_moment_fires_again_and_dates_count_from_midnight_utc(
        isolated_database_url: str, tmp_path: Path) -> None:
    follow = trigger("follow", "time", create_task("Follow up"), date_field="follow_up_on",
                     offset={"days": 1})
    with trigger_world(isolated_database_url, tmp_path, follow) as world:
        lead = world.create_lead("ann", follow_up_on="2030-01-09")  # due 2030-01-10T00:00Z
        tick = world.services.periodic[TIME_TASK]

        tick(datetime(2030, 1, 9, 23, 59, tzinfo=UTC))
        assert subjects(world) == {}
        tick(NOW)
        tick(NOW)
        assert subjects(world) == {"ann": ["Follow up"]}

        world.update_lead(lead["id"], follow_up_on="2030-01-10")
        tick(NOW + timedelta(days=1))
        assert subjects(world) == {"ann": ["Follow up", "Follow up"]}


def test_no_change_for_a_week_counts_from_updated_at(
        isolated_database_url: str, tmp_path: Path) -> None:
    stale = trigger("stale", "time", create_task("Stale lead"), date_field="updated_at",
                    offset={"days": 7})
    with trigger_world(isolated_database_url, tmp_path, stale) as world:
        world.create_lead("ann")
        now = world.services.clock()
        tick = world.services.periodic[TIME_TASK]

        tick(now + timedelta(days=6))
        assert subjects(world) == {}
        tick(now + timedelta(days=7, minutes=5))
        assert subjects(world) == {"ann": ["Stale lead"]}


def test_two_schedulers_ticking_at_once_fire_each_due_record_once(
        isolated_database_url: str, tmp_path: Path) -> None:
    remind = trigger("remind", "time", create_task("Call now"), date_field="contact_at",
                     offset={"hours": 1})
    with trigger_world(isolated_database_url, tmp_path, remind) as world:
        for index in range(12):
            world.create_lead(f"lead{index:02}", contact_at=at(NOW - timedelta(hours=2)))
        tick = world.services.periodic[TIME_TASK]

        side_by_side(lambda: tick(NOW), lambda: tick(NOW), lambda: tick(NOW))

        assert subjects(world) == {f"lead{index:02}": ["Call now"] for index in range(12)}
        assert len(world.runs("remind")) == 12


def test_a_cron_trigger_fires_each_slot_once_in_its_time_zone(
        isolated_database_url: str, tmp_path: Path) -> None:
    # 09:00 in Tokyo (UTC+9, no daylight saving) is 00:00 UTC
    daily = trigger("daily", "scheduled", create_task("Daily check"), cron="0 9 * * *",
                    timezone="Asia/Tokyo", condition=NEW_ONLY)
    with trigger_world(isolated_database_url, tmp_path, daily) as world:
        for name in ("ann", "bob"):
            world.create_lead(name, status="new")
        world.create_lead("cid", status="contacted")
        tick = world.services.periodic[CRON_TASK]
        first = datetime(2030, 1, 10, 0, 0, 30, tzinfo=UTC)

        side_by_side(lambda: tick(first), lambda: tick(first))
        tick(first + timedelta(minutes=1))
        assert subjects(world) == {"ann": ["Daily check"], "bob": ["Daily check"]}

        tick(datetime(2030, 1, 10, 9, 1, tzinfo=UTC))  # 09:00 UTC is no slot
        assert len(world.tasks()) == 2
        tick(first + timedelta(days=1))
        assert subjects(world) == {"ann": ["Daily check"] * 2, "bob": ["Daily check"] * 2}
        assert {(run.status, run.event_id is not None) for run in world.runs("daily")} == {
            ("ok", True)}


def test_missed_cron_slots_are_caught_up_for_a_day_at_most(
        isolated_database_url: str, tmp_path: Path) -> None:
    hourly = trigger("hourly", "scheduled", create_task("Hourly"), cron="0 * * * *")
    with trigger_world(isolated_database_url, tmp_path, hourly) as world:
        world.create_lead("ann")
        tick = world.services.periodic[CRON_TASK]

        tick(datetime(2030, 1, 10, 10, 0, 5, tzinfo=UTC))
        assert len(world.tasks()) == 1
        tick(datetime(2030, 1, 10, 13, 0, 5, tzinfo=UTC))  # 11:00, 12:00, 13:00 missed
        assert len(world.tasks()) == 4
        tick(datetime(2030, 1, 13, 13, 30, tzinfo=UTC))  # three days later: 24 slots
        assert len(world.tasks()) == 4 + 24


def test_more_records_than_a_slot_may_fire_is_reported(
        isolated_database_url: str, tmp_path: Path) -> None:
    hourly = trigger("hourly", "scheduled", create_task("Hourly"), cron="0 * * * *")
    with trigger_world(isolated_database_url, tmp_path, hourly) as world:
        for name in ("ann", "bob", "cid"):
            world.create_lead(name)
        automation = world.automation
        capped = CronTriggers(automation, world.services.dispatcher, limit=2)

        capped(datetime(2030, 1, 10, 10, 0, 5, tzinfo=UTC))

        assert sorted(subjects(world)) == ["ann", "bob"]
        (report,) = [run for run in world.runs("hourly") if run.status == "skipped"]
        assert "more than 2 records match" in (report.reason or "")
