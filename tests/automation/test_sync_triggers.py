"""Sync triggers run inside the change's transaction: what they do commits with the change,
a failure refuses the change (422 naming the trigger) and rolls everything back, and chains
stop loops and cascades — reported in the runs log."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from trigger_world import (
    BOSS,
    create_task,
    set_fields,
    step_triggers,
    trigger,
    trigger_world,
)

from metacrm.kernel.errors import ValidationFailed
from metacrm.storage.system_tables import audit
from metacrm.storage.system_tables import automation_runs as runs_table

SYNC = {"mode": "sync"}


def test_a_sync_trigger_acts_in_the_same_transaction_as_the_change(
        isolated_database_url: str, tmp_path: Path) -> None:
    welcome = trigger("welcome", "created", create_task("Call the new lead"), **SYNC)
    with trigger_world(isolated_database_url, tmp_path, welcome) as world:
        lead = world.create_lead("Ann")

        (task,) = world.tasks(lead["id"])
        assert task["subject"] == "Call the new lead"
        assert task["created_by"] == "trigger:welcome"
        (run,) = world.runs("welcome")
        assert (run.mode, run.status, run.record_id) == ("sync", "ok", lead["id"])
        assert run.result["actions"][0]["result"]["created"]["id"] == task["id"]
        with world.engine.connect() as conn:
            actors = set(conn.execute(sa.select(audit.c.actor).where(
                audit.c.record_id == task["id"])).scalars())
        assert actors == {"trigger:welcome"}


def test_a_failing_sync_trigger_refuses_the_change_with_a_422_naming_it(
        isolated_database_url: str, tmp_path: Path) -> None:
    # the rating is set from the name: "boom" is no rating, so the action fails at run time
    rate = trigger("rate_from_name", "created",
                   set_fields(rating={"template": "{{ record.name }}"}), **SYNC)
    with trigger_world(isolated_database_url, tmp_path, rate,
                       trigger("welcome", "created", create_task("hi"), **SYNC)) as world:
        events_before = world.outbox_count()

        with pytest.raises(ValidationFailed) as caught:
            world.create_lead("boom")

        assert caught.value.message.startswith("trigger 'rate_from_name' failed")
        (detail,) = caught.value.errors
        assert detail.pointer == "/triggers/rate_from_name"
        assert "rating" in detail.message
        assert world.services.records.list(BOSS, "lead").records == []
        assert world.tasks() == []
        assert world.outbox_count() == events_before
        assert world.run_count() == 0

        fine = world.create_lead("hot")
        assert world.lead(fine["id"])["rating"] == "hot"
        assert len(world.tasks(fine["id"])) == 1


def test_a_trigger_changing_its_own_record_runs_once_and_the_repeat_is_reported(
        isolated_database_url: str, tmp_path: Path) -> None:
    bump = trigger("bump", "updated", set_fields(counter={"formula": "record.counter + 1"}),
                   **SYNC)
    with trigger_world(isolated_database_url, tmp_path, bump) as world:
        lead = world.create_lead("Ann", counter=0)

        world.update_lead(lead["id"], note="call back")

        assert world.lead(lead["id"])["counter"] == 1
        ok, skipped = world.runs("bump")
        assert ok.status == "ok"
        assert skipped.status == "skipped"
        assert "already ran for record" in (skipped.reason or "")
        assert skipped.chain_id == ok.chain_id

        world.update_lead(lead["id"], note="again")  # a new change: a new chain
        assert world.lead(lead["id"])["counter"] == 2


def test_a_cascade_stops_at_the_depth_limit_and_says_so(
        isolated_database_url: str, tmp_path: Path) -> None:
    with trigger_world(isolated_database_url, tmp_path, *step_triggers(7, **SYNC)) as world:
        lead = world.create_lead("Ann")

        assert world.lead(lead["id"])["counter"] == 5
        statuses = {run.trigger: run.status for run in world.runs()}
        assert statuses == {"step1": "ok", "step2": "ok", "step3": "ok", "step4": "ok",
                            "step5": "ok", "step6": "skipped"}
        (stopped,) = world.runs("step6")
        assert "the limit is 5" in (stopped.reason or "")
        with world.engine.connect() as conn:
            chains = set(conn.execute(sa.select(runs_table.c.chain_id)).scalars())
        assert len(chains) == 1


def test_the_answer_to_a_write_shows_what_its_sync_triggers_changed(
        isolated_database_url: str, tmp_path: Path) -> None:
    rate = trigger("rate_new_leads", "created", set_fields(rating="hot"), **SYNC)
    bump = trigger("count_notes", "field_changed",
                   set_fields(counter={"formula": "record.counter + 1"}), fields=["note"],
                   **SYNC)
    with trigger_world(isolated_database_url, tmp_path, rate, bump) as world:
        created = world.create_lead("Ann", counter=0)
        assert created["rating"] == "hot"
        assert created == world.lead(created["id"])

        updated = world.update_lead(created["id"], note="call back")
        assert (updated["note"], updated["counter"]) == ("call back", 1)
        assert updated == world.lead(created["id"])
