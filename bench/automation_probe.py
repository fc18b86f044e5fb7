"""The default consumer of bench/automation.py: one work item per created `gizmo` record,
handled by doing nothing (or sleeping `BENCH_PROBE_SLEEP_MS`), so the figures measure the
job machinery itself. An extension pack (`METACRM_EXTENSIONS=automation_probe`): every
process of the benchmark registers it the same way; another pack (e.g. real webhook
deliveries) can be measured with `--extension`."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import timedelta

from metacrm.composition import Services
from metacrm.kernel.jobs import EventRecord, WorkItem

SLEEP_SECONDS = float(os.environ.get("BENCH_PROBE_SLEEP_MS") or 0) / 1000


class BenchProbe:
    name = "bench_probe"

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ("probe",) if event.entity == "gizmo" and event.type == "record.created" else ()

    def handle(self, item: WorkItem) -> None:
        if SLEEP_SECONDS:
            time.sleep(SLEEP_SECONDS)

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        return timedelta(seconds=1) if item.attempt < 3 else None


def install(services: Services) -> None:
    services.consumers.register(BenchProbe())
