"""A metacrm instance for job tests: the gizmo model, Services with the probe consumer,
RQ worker subprocesses and private redis-server processes (never the shared 6379).

Every process started here is killed when the test ends, whatever happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jobs_probe import ADMIN, attempts_of

from metacrm.composition import Services, build_services
from metacrm.settings import Settings
from metacrm.storage import work_item_store
from metacrm.storage.system_tables import work_items
from process_harness import (  # re-exported for the job tests
    METACRM,
    PLATFORM,
    RedisServer,
    redis_server,
    wait_until,
)
from web_harness import apply_metadata, role, settings_for

__all__ = ["JobsWorld", "RedisServer", "jobs_world", "redis_server", "wait_until"]

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
LABEL = {"en": "Gizmo", "ru": "Штука"}


def _field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


GIZMO = {
    "kind": "entity", "name": "gizmo", "version": 1, "label": LABEL,
    "fields": [_field("title", "text", required=True), _field("fail_times", "integer"),
               _field("fanout", "integer"), _field("slow_ms", "integer"),
               _field("block", "boolean"), _field("give_up", "boolean")],
}
DOCUMENTS = (GIZMO, role("boss", admin=True))


class JobsWorld:
    """Services of the test process plus the worker subprocesses it started."""

    def __init__(self, services: Services, env: Mapping[str, str], root: Path) -> None:
        self.services = services
        self.env = dict(env)
        self.root = root
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def engine(self) -> sa.Engine:
        return self.services.engine

    def create(self, title: str, **values: Any) -> str:
        record = self.services.records.create(ADMIN, "gizmo", {"title": title, **values})
        return str(record["id"])

    def attempts(self) -> list[sa.RowMapping]:
        return attempts_of(self.engine)

    def ok_items(self) -> list[str]:
        return [row["item_id"] for row in self.attempts() if row["outcome"] == "ok"]

    def items(self) -> list[work_item_store.WorkItemRow]:
        with self.engine.connect() as conn:
            ids = conn.execute(sa.select(work_items.c.id).order_by(work_items.c.id)).scalars()
            return [item for item in (work_item_store.get(conn, i) for i in list(ids)) if item]

    def start_worker(self, *args: str, env: Mapping[str, str] | None = None,
                     ) -> subprocess.Popen[bytes]:
        """Start `metacrm worker ARGS` (or `metacrm ARGS` when args[0] is `scheduler`)."""
        command = list(args) if args[:1] == ("scheduler",) else ["worker", *args]
        with (self.root / f"worker-{len(self.workers)}.log").open("wb") as log:
            process = subprocess.Popen(
                [*METACRM, *command], env={**self.env, **(env or {})}, stdout=log,
                stderr=subprocess.STDOUT)
        self.workers.append(process)
        return process

    def run_command(self, *args: str, env: Mapping[str, str] | None = None,
                    ) -> subprocess.CompletedProcess[str]:
        """Run `metacrm ARGS` to completion."""
        return subprocess.run([*METACRM, *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=120, check=False)

    def kill_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def worker_logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")
                         for path in sorted(self.root.glob("worker-*.log")))


@contextmanager
def jobs_world(database_url: str, root: Path, *, redis_url: str | None = None,
               lease_seconds: float = 60.0) -> Iterator[JobsWorld]:
    """Apply the gizmo model, build Services (RQ when `redis_url`), yield the world; kill
    its workers and release its connections after."""
    apply_metadata(database_url, DOCUMENTS)
    settings: Settings = replace(
        settings_for(database_url, root), redis_url=redis_url,
        job_lease_seconds=lease_seconds, extensions=("jobs_probe",))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(TESTS), str(PLATFORM)]),
        "METACRM_DATABASE_URL": database_url,
        "METACRM_METADATA_PATH": str(root / "packs"),
        "METACRM_INSTANCE_PATH": str(root / "instance"),
        "METACRM_SECRET_KEY": settings.secret_key,
        "METACRM_JOB_LEASE_SECONDS": str(lease_seconds),
        "METACRM_EXTENSIONS": "jobs_probe",
        "METACRM_REDIS_URL": redis_url or "",
    }
    services = build_services(settings)
    world = JobsWorld(services, env, root)
    try:
        yield world
    finally:
        world.kill_workers()
        services.close()
