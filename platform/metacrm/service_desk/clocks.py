"""A ticket's SLA clocks from its stored segments, its policy and the policy's calendar.

A ticket record (JSON form) carries `sla_segments` (`[[instant, paused], ...]`, kernel
`sla_clock.Segment`), `first_response_at` and `resolved_at` (when each target stopped).
Which policy applies is decided once, when the ticket is created (`sla_policy`), so a
policy edited later still times the tickets it started with — by its new targets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.automation.business_calendars import runtime_calendar
from metacrm.automation.record_values import python_record
from metacrm.criteria.context import CriteriaContext
from metacrm.criteria.predicate import compile_predicate
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.business_time import BusinessCalendar
from metacrm.kernel.sla_clock import ClockReading, Segment, read_clock
from metacrm.metadata.model import SLA_METRICS, CompiledModel, EntityDef, SlaPolicyDef
from metacrm.services.records.service import RecordsService

TICKET = "ticket"
STOPPED_BY = {"first_response": "first_response_at", "resolution": "resolved_at"}
"""The ticket field whose value stops each metric's clock."""


@dataclass(frozen=True, slots=True)
class TicketClocks:
    """The readings of one ticket's clocks (a metric without a target has none)."""

    policy: SlaPolicyDef
    calendar: BusinessCalendar
    segments: tuple[Segment, ...]
    readings: Mapping[str, ClockReading]

    def as_json(self) -> dict[str, Any]:
        return {"policy": self.policy.name, "calendar": self.policy.calendar,
                "clocks": {metric: reading.as_json()
                           for metric, reading in self.readings.items()}}


def choose_policy(model: CompiledModel, registry: FieldTypeRegistry, entity: EntityDef,
                  record: Mapping[str, Any], now: datetime) -> SlaPolicyDef | None:
    """The first policy (by rank, then name) whose `applies_when` matches the ticket."""
    for policy in sorted(model.sla_policies.values(), key=lambda p: (p.rank, p.name)):
        if policy.applies_when is None:
            return policy
        predicate = compile_predicate(policy.applies_when, entity, registry,
                                      CriteriaContext(None, (), now))
        if predicate(python_record(entity, registry, record)):
            return policy
    return None


def calendar_of(model: CompiledModel, policy: SlaPolicyDef) -> BusinessCalendar | None:
    definition = model.calendars.get(policy.calendar)
    return runtime_calendar(definition) if definition is not None else None


def segments_of(record: Mapping[str, Any]) -> tuple[Segment, ...]:
    raw = record.get("sla_segments")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return ()
    return tuple(Segment.from_json(item) for item in raw)


def instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def read_ticket(model: CompiledModel, record: Mapping[str, Any], now: datetime
                ) -> TicketClocks | None:
    """The clocks of a ticket (JSON form) at `now`; None when it has no policy (or its
    policy or calendar no longer exists) or no segments yet."""
    policy = model.sla_policies.get(str(record.get("sla_policy") or ""))
    segments = segments_of(record)
    if policy is None or not segments:
        return None
    calendar = calendar_of(model, policy)
    if calendar is None:
        return None
    readings: dict[str, ClockReading] = {}
    for metric in SLA_METRICS:
        target = policy.target(metric, record.get("priority"), record.get("customer_tier"))
        if target is None:
            continue
        readings[metric] = read_clock(calendar, segments, timedelta(minutes=target.minutes),
                                      now, stopped_at=instant(record.get(STOPPED_BY[metric])))
    return TicketClocks(policy, calendar, segments, readings)


class SlaClocks:
    """A ticket's clocks as a user may know them (`services.service_desk`): the ticket is
    read through the records service with the user's scope and field security, so a
    ticket they may not read is 404/403, and hidden SLA fields give no clocks."""

    def __init__(self, records: RecordsService, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._clock = clock

    def of(self, subject: AccessSubject, ticket_id: str) -> TicketClocks | None:
        record = self._records.get(subject, TICKET, ticket_id)
        return self.of_record(record)

    def of_record(self, record: Mapping[str, Any]) -> TicketClocks | None:
        """The clocks of a ticket already read for the viewer (JSON form)."""
        return read_ticket(self._records.runtime().model, record, self._clock())


NO_CLOCKS: dict[str, Any] = {"policy": None, "calendar": None, "clocks": {}}
"""The answer for a ticket without a policy (or whose SLA fields the viewer may not see)."""
