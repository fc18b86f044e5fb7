"""Async triggers run after the commit, from the job queue (here the inline queue, or a
queue that is down so items wait): on the record as it is then, once per event however often
the item is delivered, retried when they fail, and chained like sync ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from trigger_world import (
    BOSS,
    TriggerWorld,
    create_task,
    set_fields,
    step_triggers,
    trigger,
    trigger_world,
)

from metacrm.automation.consumer import MAX_ATTEMPTS
from metacrm.kernel.jobs import GiveUp, WorkItem
from metacrm.storage import work_item_store
from metacrm.storage.system_tables import work_items

DEAD_QUEUE = "redis://127.0.0.1:9/0"
"""A Redis URL nothing listens on: the queue refuses items, which wait in the database."""


def trigger_items(world: TriggerWorld, name: str) -> list[work_item_store.WorkItemRow]:
    with world.engine.connect() as conn:
        return work_item_store.list_for(conn, "trigger", name)


def test_an_async_trigger_runs_after_the_commit_and_creates_a_record(
        isolated_database_url: str, tmp_path: Path) -> None:
    follow_up = trigger("follow_up", "created", create_task("Follow up"))
    with trigger_world(isolated_database_url, tmp_path, follow_up) as world:
        lead = world.create_lead("Ann")

        (task,) = world.tasks(lead["id"])
        assert task["created_by"] == "trigger:follow_up"
        (run,) = world.runs("follow_up")
        assert (run.mode, run.status, run.attempt) == ("async", "ok", 1)
        (item,) = trigger_items(world, "follow_up")
        assert (item.status, item.event.type, item.event.record_id) == (
            "done", "record.created", lead["id"])
        assert run.event_id == item.event.id


def test_a_second_delivery_of_the_same_item_does_nothing(
        isolated_database_url: str, tmp_path: Path) -> None:
    follow_up = trigger("follow_up", "created", create_task("Follow up"))
    with trigger_world(isolated_database_url, tmp_path, follow_up) as world:
        lead = world.create_lead("Ann")
        (item,) = trigger_items(world, "follow_up")

        assert world.services.dispatcher.retry_now(item.id)  # delivered (and run) again
        consumer = world.services.consumers.get("trigger")
        assert consumer is not None
        consumer.handle(WorkItem(item.id, "trigger", "follow_up", item.event, attempt=7))

        assert len(world.tasks(lead["id"])) == 1
        assert len(world.runs("follow_up")) == 1


def test_the_run_sees_the_record_as_it_is_then_and_skips_a_deleted_one(
        isolated_database_url: str, tmp_path: Path) -> None:
    copy = trigger("copy_note", "created",
                   create_task("note: {{ record.note }}"))
    with trigger_world(isolated_database_url, tmp_path, copy, redis_url=DEAD_QUEUE) as world:
        kept = world.create_lead("Ann", note="first")
        gone = world.create_lead("Bob", note="first")
        world.update_lead(kept["id"], note="second")
        world.services.records.delete(BOSS, "lead", gone["id"])
        items = {item.event.record_id: item for item in trigger_items(world, "copy_note")}
        assert {item.status for item in items.values()} == {"pending"}

        for item in items.values():
            world.services.dispatcher.run_item(item.id)

        (task,) = world.tasks()
        assert task["subject"] == "note: second"
        runs = {run.record_id: run for run in world.runs("copy_note")}
        assert runs[kept["id"]].status == "ok"
        assert runs[gone["id"]].status == "skipped"
        assert "was deleted" in (runs[gone["id"]].reason or "")


def test_a_failed_run_is_logged_retried_and_finally_given_up(
        isolated_database_url: str, tmp_path: Path) -> None:
    rate = trigger("rate_from_name", "created",
                   set_fields(rating={"template": "{{ record.name }}"}))
    with trigger_world(isolated_database_url, tmp_path, rate) as world:
        lead = world.create_lead("boom")  # the change itself commits: the trigger is async

        (item,) = trigger_items(world, "rate_from_name")
        assert (item.status, item.attempts) == ("pending", 1)
        assert item.next_attempt_at > world.services.clock()
        (failed,) = world.runs("rate_from_name")
        assert failed.status == "failed"
        assert "attempt 1 of 4 failed; will retry" in (failed.reason or "")
        assert world.lead(lead["id"])["rating"] is None

        consumer = world.services.consumers.get("trigger")
        assert consumer is not None
        last = WorkItem(item.id, "trigger", item.target, item.event, attempt=MAX_ATTEMPTS)
        with pytest.raises(GiveUp):
            consumer.handle(last)
        assert "giving up" in (world.runs("rate_from_name")[-1].reason or "")

        world.update_lead(lead["id"], name="hot")  # fix the data, then deliver again
        assert world.services.dispatcher.retry_now(item.id)
        assert world.lead(lead["id"])["rating"] == "hot"
        assert [run.status for run in world.runs("rate_from_name")] == [
            "failed", "failed", "ok"]
        with world.engine.connect() as conn:
            status = conn.execute(sa.select(work_items.c.status).where(
                work_items.c.id == item.id)).scalar_one()
        assert status == "done"


def test_an_async_trigger_changing_its_own_record_runs_once_per_chain(
        isolated_database_url: str, tmp_path: Path) -> None:
    bump = trigger("bump", "updated", set_fields(counter={"formula": "record.counter + 1"}))
    with trigger_world(isolated_database_url, tmp_path, bump) as world:
        lead = world.create_lead("Ann", counter=0)

        world.update_lead(lead["id"], note="call back")

        assert world.lead(lead["id"])["counter"] == 1
        ok, skipped = world.runs("bump")
        assert (ok.status, skipped.status) == ("ok", "skipped")
        assert "already ran for record" in (skipped.reason or "")
        assert skipped.chain_id == ok.chain_id == ok.event_id


def test_an_async_cascade_stops_at_the_depth_limit(
        isolated_database_url: str, tmp_path: Path) -> None:
    with trigger_world(isolated_database_url, tmp_path, *step_triggers(7)) as world:
        lead = world.create_lead("Ann")

        assert world.lead(lead["id"])["counter"] == 5
        statuses = [(run.trigger, run.status) for run in world.runs()]
        assert statuses == [("step1", "ok"), ("step2", "ok"), ("step3", "ok"),
                            ("step4", "ok"), ("step5", "ok"), ("step6", "skipped")]
        assert "the limit is 5" in (world.runs("step6")[0].reason or "")


def test_sync_triggers_fire_on_what_an_async_trigger_changes(
        isolated_database_url: str, tmp_path: Path) -> None:
    triggers = (trigger("rate", "created", set_fields(rating="hot")),
                trigger("hot_task", "field_changed", create_task("Hot!"), fields=["rating"],
                        to=["hot"], mode="sync"))
    with trigger_world(isolated_database_url, tmp_path, *triggers) as world:
        lead = world.create_lead("Ann")

        (task,) = world.tasks(lead["id"])
        assert task["created_by"] == "trigger:hot_task"
        (rate_run,) = world.runs("rate")
        (hot_run,) = world.runs("hot_task")
        assert hot_run.mode == "sync"
        assert hot_run.chain_id == rate_run.chain_id
