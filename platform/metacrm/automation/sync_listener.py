"""Sync triggers: run inside the transaction of the change that fired them.

`SyncTriggers` is a `TransactionListener` (`metacrm.services.records.unit_of_work`): before a write
command commits, it runs the actions of the enabled sync triggers its events fire (and whose
conditions hold) on the command's own connection. The unit of work hands it the events those
actions produce in turn, round after round; the chain they carry stops loops and cascades.

A failing action refuses the whole change: `ValidationFailed` (422) "trigger 'x' failed:
...", pointer `/triggers/x` — the change, the trigger's writes and the log all roll back, so
the 422 is the only report of that run. Successful (and skipped) runs are logged in the same
transaction, committing with the change.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa

from metacrm.automation.chain import EventChain
from metacrm.automation.matching import RecordChange, change_of
from metacrm.automation.runner import ActionFailed, RunTarget, error_text
from metacrm.automation.service import AutomationService
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.kernel.jobs import EventRecord
from metacrm.metadata.model import TriggerDef
from metacrm.storage import automation_runs
from metacrm.storage.automation_runs import OK, SKIPPED, RunEntry
from metacrm.storage.outbox import OutboxEvent


def event_record(event: OutboxEvent) -> EventRecord:
    return EventRecord(id=event.id, type=event.type, entity=event.entity,
                       record_id=event.record_id, payload=event.payload,
                       created_at=event.created_at)


def trigger_failed(trigger: str, exc: BaseException) -> ValidationFailed:
    """The 422 that refuses a change because its sync trigger `trigger` failed."""
    cause = exc.cause if isinstance(exc, ActionFailed) else exc
    where = (f" (action {exc.index}, {exc.type})" if isinstance(exc, ActionFailed) else "")
    message = f"trigger '{trigger}' failed{where}: {error_text(cause)}"
    return ValidationFailed(message, [ErrorDetail(message, f"/triggers/{trigger}")])


class SyncTriggers:
    """The listener running sync triggers before each write command commits."""

    def __init__(self, automation: AutomationService) -> None:
        self.automation = automation

    def before_commit(self, conn: sa.Connection, events: Sequence[OutboxEvent]) -> None:
        matcher = None
        for event in events:
            change = change_of(event.type, event.payload)
            if change is None:
                continue
            matcher = matcher or self.automation.matcher()
            now = self.automation.now()
            for trigger in matcher.fired(change, mode="sync"):
                if matcher.condition_holds(trigger, change, now):
                    self._run(conn, trigger, change, event)

    def after_commit(self, events: Sequence[OutboxEvent]) -> None:
        """Nothing: sync runs are done (and logged) by the time the change commits."""

    def _run(
        self, conn: sa.Connection, trigger: TriggerDef, change: RecordChange,
        event: OutboxEvent,
    ) -> None:
        now = self.automation.now()
        chain = EventChain.of_event(event.id, event.payload)
        entry = RunEntry(trigger=trigger.name, entity=change.entity,
                         record_id=change.record_id, event_id=event.id, mode="sync",
                         status=OK, started_at=now, chain_id=chain.id)
        refusal = chain.refusal(trigger.name, change.record_id, self.automation.depth_limit)
        if refusal is not None:
            automation_runs.log_run(conn, replace(entry, status=SKIPPED, reason=refusal))
            return
        target = RunTarget(change.entity, change.record_id, change.record, change.previous,
                           event_record(event))
        started = time.perf_counter()
        try:
            results = self.automation.run_in(conn, trigger, target, chain, now=now)
        except Exception as exc:
            raise trigger_failed(trigger.name, exc) from exc
        automation_runs.log_run(conn, replace(
            entry, result={"actions": results},
            duration_ms=round((time.perf_counter() - started) * 1000)))
