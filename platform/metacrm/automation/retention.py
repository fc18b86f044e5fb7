"""The `automation.retention` periodic task: the runs log keeps 30 days, the claims of time
and cron triggers 7 days (longer than any look-back window, so nothing fires twice).

The scheduler ticks about every second; the deletes run at most once an hour per process
(several schedulers deleting the same old rows is harmless)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from metacrm.storage import automation_runs

RUNS_KEPT = timedelta(days=30)
CLAIMS_KEPT = timedelta(days=7)
EVERY = timedelta(hours=1)

_log = logging.getLogger(__name__)


class AutomationRetention:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._last: datetime | None = None

    def __call__(self, now: datetime) -> None:
        if self._last is not None and abs(now - self._last) < EVERY:
            return
        self._last = now
        with self.engine.begin() as conn:
            runs = automation_runs.delete_runs_before(conn, now - RUNS_KEPT)
            claims = automation_runs.prune_claims(conn, now - CLAIMS_KEPT)
        if runs or claims:
            _log.info("forgot %d automation run(s) older than %s and %d claim(s) older "
                      "than %s", runs, RUNS_KEPT, claims, CLAIMS_KEPT)
