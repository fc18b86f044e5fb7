"""Core-side adapters of a pack's registrations: its actions (automation `Action`), its
subscriptions (outbox `Consumer`) and its periodic jobs (scheduler tasks)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from metacrm.access.event_records import readable_record, visible_values
from metacrm.automation.actions import ActionContext
from metacrm.extension import ActionCall, Event
from metacrm.extension_host.contributions import (
    ActionEntry,
    PeriodicEntry,
    SubscriptionEntry,
)
from metacrm.extension_host.service_account import pack_subject
from metacrm.kernel.errors import ErrorDetail
from metacrm.kernel.jobs import EventRecord, WorkItem
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.services.records.service import RecordsService

SUBSCRIBER_RETRIES = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5),
                      timedelta(minutes=30), timedelta(hours=2))
"""Waits after failed attempts of a subscriber's work item; then it gives up."""


def _pointer(path: Sequence[Any]) -> str:
    return "".join(f"/{part}" for part in path)


class PackAction:
    """A pack's action as the automation engine runs it (`automation.actions.Action`)."""

    def __init__(self, entry: ActionEntry) -> None:
        self.entry = entry
        self._validator = Draft202012Validator(dict(entry.params_schema))

    @property
    def name(self) -> str:
        return self.entry.name

    def check(self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
              ) -> list[ErrorDetail]:
        return [ErrorDetail(error.message, _pointer(error.absolute_path))
                for error in self._validator.iter_errors(params)]

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        result = self.entry.handler(ActionCall(
            trigger=context.trigger.name, entity=context.entity,
            record=MappingProxyType(dict(context.record)),
            params=MappingProxyType(dict(params)), dry_run=context.dry_run))
        return dict(result or {})


def consumer_name(pack: str, subscription: str) -> str:
    return f"ext.{pack}.{subscription}"


class PackSubscriber:
    """A pack's subscription as an outbox consumer: one work item per matching event (the
    target is the subscription itself), handled with the core's leases and retries.

    The pack's service account is the audience (`access.event_records`): no event of a
    record it may not read, no field hidden from it."""

    def __init__(self, pack: str, entry: SubscriptionEntry, records: RecordsService) -> None:
        self.pack = pack
        self.entry = entry
        self.name = consumer_name(pack, entry.name)
        self._records = records
        self._subject = pack_subject(pack)

    def targets(self, event: EventRecord) -> Sequence[str]:
        if event.type not in self.entry.event_types:
            return ()
        if self.entry.entities and event.entity not in self.entry.entities:
            return ()
        policy = self._records.runtime().policy
        if policy.model.entity(event.entity) is None or not policy.scope(
                self._subject, event.entity, "read").allowed:
            return ()
        return (self.entry.name,)

    def handle(self, item: WorkItem) -> None:
        event = item.event
        payload = event.payload
        policy = self._records.runtime().policy
        record = payload.get("record") or {}
        if policy.model.entity(event.entity) is None or not readable_record(
                policy, self._subject, event.entity, record, now=self._records.now()):
            return
        previous = payload.get("previous")
        self.entry.handler(Event(
            id=event.id, type=event.type, entity=event.entity, record_id=event.record_id,
            occurred_at=event.created_at,
            record=MappingProxyType(visible_values(policy, self._subject, event.entity,
                                                   record)),
            changed=tuple(payload.get("changed") or ()),
            previous=MappingProxyType(visible_values(policy, self._subject, event.entity,
                                                     previous))
            if isinstance(previous, Mapping) else None,
            attempt=item.attempt))

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return SUBSCRIBER_RETRIES[index] if index < len(SUBSCRIBER_RETRIES) else None


def periodic_name(pack: str, job: str) -> str:
    return f"ext.{pack}.{job}"


PeriodClaim = Callable[[str, datetime, timedelta], bool]
"""(task name, now, every) -> may this process start the job now (`claim_period`)."""


class ThrottledJob:
    """A pack's periodic job as a scheduler task: the scheduler ticks every second, the
    job runs when `every` has passed since its last start in ANY scheduler process — this
    process's own last start is checked first (no database round trip on most ticks), then
    the shared claim decides."""

    def __init__(self, name: str, entry: PeriodicEntry, claim: PeriodClaim) -> None:
        self.name = name
        self.entry = entry
        self._claim = claim
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def __call__(self, now: datetime) -> None:
        with self._lock:
            if self._last is not None and now - self._last < self.entry.every:
                return
            if not self._claim(self.name, now, self.entry.every):
                return
            self._last = now
        self.entry.job(now)
