"""Every ticket save keeps its clock segments, stop times and due times (`SaveInterceptors`).

On create the ticket gets its policy (`clocks.choose_policy`) and its first segment; on a
change of state a new segment starts — paused in the policy's pause states and in closed
states (resolved, closed: a reopened ticket's resolution clock goes on without the time it
lay resolved). The first response is the agent's first reply: `first_response_at` is set
by whoever answers (an agent on the form or the API, the mail module when it sends a
reply); reaching a closed state stamps `resolved_at`, reopening clears it. The due times and
the breached flag are written from a fresh reading, so they are exact after every save;
the periodic job (`milestones`) keeps them current in between. So are the targets'
outcomes (hours taken, met or breached: `outcomes`) the service reports read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.kernel.sla_clock import Segment, with_state
from metacrm.metadata.model import CompiledModel
from metacrm.service_desk.clocks import TICKET, choose_policy, read_ticket, segments_of
from metacrm.service_desk.outcomes import outcome_fields
from metacrm.services.records.save_hooks import SaveInterceptors, chained, json_defaults, json_value
from metacrm.services.records.service import RecordsService
from metacrm.storage.record_codec import Record

STATE_FIELD = "status"


def closed_states(model: CompiledModel) -> frozenset[str]:
    """States of the ticket pipeline outside the `open` category (resolved, closed)."""
    return frozenset(state.name for pipeline in model.pipelines.values()
                     if pipeline.entity == TICKET
                     for state in pipeline.states if state.category != "open")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def ticket_values(model: CompiledModel, record: Mapping[str, Any],
                  previous: Mapping[str, Any] | None, now: datetime,
                  choose: Any) -> dict[str, Any]:
    """The SLA values a ticket save adds to `record` (JSON form, the save applied);
    `previous` is the stored ticket (None on create); `choose(record)` picks a policy."""
    added: dict[str, Any] = {}
    state = record.get(STATE_FIELD)
    before = previous.get(STATE_FIELD) if previous is not None else None
    if previous is None:
        policy = choose(record)
        added["sla_policy"] = policy.name if policy is not None else None
    policy = model.sla_policies.get(str(added.get("sla_policy", record.get("sla_policy"))))
    pauses = set(policy.pause_states) if policy is not None else set()
    closed = closed_states(model)
    paused = state in pauses or state in closed
    segments = segments_of(previous or {})
    if previous is None or not segments:
        segments = (Segment(now, paused),)
    elif state != before:
        segments = with_state(segments, now, paused)
    added["sla_segments"] = [segment.as_json() for segment in segments]
    if state in closed and not record.get("resolved_at"):
        added["resolved_at"] = _iso(now)
    elif state not in closed and record.get("resolved_at"):
        added["resolved_at"] = None
    clocks = read_ticket(model, {**record, **added}, now)
    readings = clocks.readings if clocks is not None else {}
    for metric, field in (("first_response", "sla_response_due"),
                          ("resolution", "sla_resolution_due")):
        reading = readings.get(metric)
        added[field] = _iso(reading.due) if reading is not None and reading.due else None
    added["sla_breached"] = any(reading.breached for reading in readings.values())
    ticket = model.entity(TICKET)
    added.update(outcome_fields(clocks, lambda name: ticket is not None
                                and ticket.has_field(name)))
    return added


class TicketSaves:
    """`SaveInterceptors` adding the SLA values to ticket saves, then running `after` (the
    hooks that were installed before it) on the result."""

    def __init__(self, records: RecordsService, after: SaveInterceptors,
                 clock: Callable[[], datetime]) -> None:
        self._records = records
        self._after = after
        self._clock = clock

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        later = self._after.hook(conn, subject, entity)
        if entity != TICKET:
            return later
        runtime = self._records.runtime()
        model = runtime.model
        definition = model.entity(TICKET)
        if definition is None or not definition.has_field("sla_segments"):
            return later
        registry = self._records.registry
        now = self._clock()

        def choose(record: Mapping[str, Any]) -> Any:
            return choose_policy(model, registry, definition, record, now)

        def before_save(current: Record | None, planned: Mapping[str, Any]
                        ) -> Mapping[str, Any]:
            previous = runtime.json.record(TICKET, current) if current is not None else None
            record = dict(previous) if previous is not None else json_defaults(registry,
                                                                           definition)
            record.update({key: json_value(registry, definition, key, value)
                           for key, value in planned.items()})
            return ticket_values(model, record, previous, now, choose)

        return chained(before_save, later)
