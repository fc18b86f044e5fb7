"""Async triggers: the `trigger` consumer of the job queue.

For each published record event, `targets` names the enabled async triggers it fires whose
conditions hold (checked on the event's record, at relay time); the dispatcher makes one
work item per trigger. Time and cron triggers' schedulers submit their items directly
(`trigger.time`, `trigger.scheduled` events).

`handle` runs the trigger's actions in a transaction of their own, opened with the records
service's listeners (so sync triggers fire on the changes the actions make), on the record
as it is NOW — reloaded; a record deleted meanwhile is logged as skipped — as the
automation subject. It is idempotent by (trigger, event): the run's log row claims the key
`<trigger>:<event id>` in that same transaction, so a second delivery of the item finds it
taken and does nothing. A failed attempt rolls everything back, is logged as `failed` and
retried (`retry_delay`: 10 s, 1 min, 5 min); the fourth failure is final.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from metacrm.automation.chain import EventChain
from metacrm.automation.matching import (
    DELETED,
    SCHEDULED_EVENT,
    TIME_EVENT,
    change_of,
)
from metacrm.automation.runner import ActionFailed, RunTarget, error_text
from metacrm.automation.service import AutomationService
from metacrm.kernel.jobs import EventRecord, GiveUp, RetryLater, WorkItem
from metacrm.metadata.model import TriggerDef
from metacrm.storage import automation_runs
from metacrm.storage.automation_runs import FAILED, OK, SKIPPED, RunEntry

_log = logging.getLogger(__name__)

CONSUMER_NAME = "trigger"
RETRY_DELAYS = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


@dataclass(frozen=True)
class Outcome:
    """How a run ended (status ok or skipped; failures are exceptions)."""

    status: str
    reason: str | None = None
    result: Any = None


class TriggerConsumer:
    """Runs async, time and cron triggers' work items."""

    def __init__(self, automation: AutomationService) -> None:
        self.automation = automation

    @property
    def name(self) -> str:
        return CONSUMER_NAME

    def targets(self, event: EventRecord) -> Sequence[str]:
        change = change_of(event.type, event.payload)
        if change is None:
            return ()
        matcher = self.automation.matcher()
        now = self.automation.now()
        return tuple(trigger.name for trigger in matcher.fired(change, mode="async")
                     if matcher.condition_holds(trigger, change, now))

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        if item.attempt >= MAX_ATTEMPTS:
            return None
        return RETRY_DELAYS[min(item.attempt, len(RETRY_DELAYS)) - 1]

    def handle(self, item: WorkItem) -> None:
        event = item.event
        now = self.automation.now()
        chain = EventChain.of_event(event.id, event.payload)
        entry = RunEntry(trigger=item.target, entity=event.entity, record_id=event.record_id,
                         event_id=event.id, mode="async", status=OK, started_at=now,
                         attempt=item.attempt, chain_id=chain.id,
                         run_key=f"{item.target}:{event.id}")
        started = time.perf_counter()
        try:
            with self.automation.services.records.transaction() as conn:
                run_id = automation_runs.claim_run(conn, entry)
                if run_id is None:
                    return  # an earlier delivery of this item ran it
                outcome = self._perform(conn, item, chain)
                automation_runs.finish_run(
                    conn, run_id, status=outcome.status, reason=outcome.reason,
                    result=outcome.result, duration_ms=_elapsed(started))
        except Exception as exc:
            self._failed(item, entry, exc, _elapsed(started))

    def _perform(self, conn: sa.Connection, item: WorkItem, chain: EventChain) -> Outcome:
        automation = self.automation
        event = item.event
        trigger = automation.model().triggers.get(item.target)
        if trigger is None:
            return Outcome(SKIPPED, f"trigger '{item.target}' no longer exists")
        changed = ("is disabled" if not trigger.enabled else
                   "watches another entity now" if trigger.entity != event.entity else
                   "is sync now" if trigger.mode != "async" else None)
        if changed is not None:
            return Outcome(SKIPPED, f"trigger '{item.target}' {changed}")
        refusal = chain.refusal(trigger.name, event.record_id, automation.depth_limit)
        if refusal is not None:
            return Outcome(SKIPPED, refusal)
        target = self._target(conn, trigger, event)
        if isinstance(target, str):
            return Outcome(SKIPPED, target)
        results = automation.run_in(conn, trigger, target, chain, now=automation.now())
        return Outcome(OK, None, {"actions": results})

    def _target(
        self, conn: sa.Connection, trigger: TriggerDef, event: EventRecord
    ) -> RunTarget | str:
        """The record to run on, as it is now; a reason to skip instead."""
        runtime = self.automation.services.records.runtime()
        change = change_of(event.type, event.payload)
        if event.type == DELETED and change is not None:
            return RunTarget(event.entity, event.record_id, change.record, {}, event)
        current = runtime.system.get(conn, event.entity, event.record_id)
        if current is None:
            return f"{event.entity} record {event.record_id} was deleted before the run"
        record = runtime.json.record(event.entity, current)
        if event.type in (TIME_EVENT, SCHEDULED_EVENT) and not self.automation.matcher(
                ).holds_on(trigger, record, self.automation.now()):
            return "the record no longer matches the trigger's condition"
        previous = change.previous if change is not None else {}
        return RunTarget(event.entity, event.record_id, record, previous, event)

    def _failed(self, item: WorkItem, entry: RunEntry, exc: Exception, duration: int) -> None:
        cause = exc.cause if isinstance(exc, ActionFailed) else exc
        where = f"action {exc.index} ({exc.type}): " if isinstance(exc, ActionFailed) else ""
        final = item.attempt >= MAX_ATTEMPTS
        reason = (f"attempt {item.attempt} of {MAX_ATTEMPTS} failed"
                  f"{'; giving up' if final else '; will retry'}: {where}{error_text(cause)}")
        try:
            with self.automation.services.engine.begin() as conn:
                automation_runs.log_run(conn, replace(entry, status=FAILED, reason=reason,
                                                      duration_ms=duration, run_key=None))
        except Exception:  # the database may be what failed; the dispatcher keeps the error
            _log.exception("could not log the failed run of trigger %r", item.target)
        if final:
            raise GiveUp(reason) from exc
        raise RetryLater(reason) from exc


def _elapsed(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
