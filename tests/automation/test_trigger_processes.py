"""Triggers across real processes: an RQ worker (`metacrm worker`) runs an async trigger that
creates a follow-up task, and two schedulers (`metacrm scheduler --once`) started together
fire each cron slot once. Processes started here are killed when the test ends."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from trigger_world import TriggerWorld, create_task, trigger, trigger_world

from metacrm.storage.system_tables import automation_claims
from process_harness import METACRM, PLATFORM, redis_server, wait_until


def process_env(world: TriggerWorld, redis_url: str | None) -> dict[str, str]:
    settings = world.services.settings
    return {
        **os.environ,
        "PYTHONPATH": str(PLATFORM),
        "METACRM_DATABASE_URL": settings.database_url,
        "METACRM_METADATA_PATH": str(settings.metadata_paths[0]),
        "METACRM_INSTANCE_PATH": str(settings.instance_path),
        "METACRM_SECRET_KEY": settings.secret_key,
        "METACRM_REDIS_URL": redis_url or "",
    }


@contextmanager
def processes(*commands: tuple[list[str], dict[str, str], Path]
              ) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start `metacrm <args>` processes (logging to a file each); kill them at the end."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for args, env, log_path in commands:
            with log_path.open("wb") as log:
                started.append(subprocess.Popen(
                    [*METACRM, *args], env=env, stdout=log, stderr=subprocess.STDOUT))
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def test_an_rq_worker_runs_an_async_trigger_that_creates_a_follow_up_task(
        isolated_database_url: str, tmp_path: Path) -> None:
    follow_up = trigger("follow_up", "created", create_task("Follow up {{ record.name }}"))
    with redis_server(tmp_path / "redis") as redis, \
            trigger_world(isolated_database_url, tmp_path, follow_up,
                          redis_url=redis.url) as world:
        env = process_env(world, redis.url)
        with processes((["worker"], env, tmp_path / "worker.log")):
            lead = world.create_lead("Ann")  # relayed to RQ after the commit

            (task,) = wait_until(lambda: world.tasks(lead["id"]), what="the follow-up task")
            assert task["subject"] == "Follow up Ann"
            assert task["created_by"] == "trigger:follow_up"
            (run,) = wait_until(lambda: world.runs("follow_up"), what="the run to be logged")
            assert (run.mode, run.status) == ("async", "ok")


def test_two_schedulers_started_together_fire_each_cron_slot_once(
        isolated_database_url: str, tmp_path: Path) -> None:
    minutely = trigger("minutely", "scheduled", create_task("Tick"), cron="* * * * *")
    with trigger_world(isolated_database_url, tmp_path, minutely) as world:
        leads = [world.create_lead(name)["id"] for name in ("ann", "bob")]
        env = process_env(world, None)
        with processes(*[(["scheduler", "--once"], env, tmp_path / f"scheduler{n}.log")
                         for n in range(2)]) as started:
            for process in started:
                assert process.wait(timeout=120) == 0, (tmp_path / "scheduler0.log"
                                                        ).read_text(errors="replace")

        with world.engine.connect() as conn:
            slots = conn.execute(sa.select(sa.func.count()).select_from(automation_claims)
                                 .where(automation_claims.c.trigger == "minutely")
                                 ).scalar_one()
        assert slots >= 1  # the first tick looks back two minutes: one or two slots
        for lead in leads:
            assert len(world.tasks(lead)) == slots
        assert len(world.runs("minutely")) == slots * len(leads)
