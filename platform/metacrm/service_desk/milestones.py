"""The periodic job firing SLA milestones: warnings, breaches, escalation levels — once each.

Each tick reads the clocks of the tickets not yet closed. A milestone that fell due — the
warning `warn_before_minutes` of business time before the due time, the breach, escalation
level N `after_minutes` of business time after the breach — and is not yet in the ticket's
`sla_fired` runs its actions and is recorded there, with the ticket's due times, in the same
transaction: a milestone fires once even when ticks overlap (the scheduler runs a periodic
job once per period for the whole instance; notifications are keyed by ticket and
milestone as well).

Actions: `notify` (in-app notifications to the owner, the queue team's members, or named
users), `reassign` (the ticket moves to another queue; its assignment triggers pick the new
owner), `raise_priority` (one step up the priority picklist). Changes to the ticket are
made as the subject `sla:<policy>` through the records service, so they are audited and
fire triggers like any change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.access.teams import TeamDirectory
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.sla_clock import warning_at
from metacrm.metadata.model import CompiledModel, SlaActionDef, SlaPolicyDef
from metacrm.notifications import store
from metacrm.service_desk.clocks import TICKET, TicketClocks, read_ticket
from metacrm.service_desk.outcomes import outcome_fields
from metacrm.service_desk.saves import closed_states
from metacrm.services.records.service import RecordsService
from metacrm.storage.periodic_slots import claim_period

_log = logging.getLogger(__name__)
PAGE = 200
JOB_NAME = "service_desk.sla"
EVERY = timedelta(minutes=1)
"""How often the milestones are looked for: a warning or breach fires within a minute."""


@dataclass(frozen=True, slots=True)
class Milestone:
    key: str
    """`<metric>:warning`, `<metric>:breach`, `<metric>:escalation:<level>`."""
    actions: tuple[SlaActionDef, ...]


def due_milestones(clocks: TicketClocks, fired: Mapping[str, Any], now: datetime
                   ) -> list[Milestone]:
    """The milestones of a ticket that fell due by `now` and have not fired yet."""
    found: list[Milestone] = []
    for metric, reading in clocks.readings.items():
        if reading.stopped_at is not None and not reading.breached:
            continue
        milestone = clocks.policy.milestone(metric)
        if milestone.warn_before_minutes and reading.stopped_at is None:
            at = warning_at(clocks.calendar, clocks.segments, reading.target,
                            timedelta(minutes=milestone.warn_before_minutes), now)
            if at is not None and at <= now:
                found.append(Milestone(f"{metric}:warning", milestone.on_warning))
        if not reading.breached or reading.due is None:
            continue
        found.append(Milestone(f"{metric}:breach", milestone.on_breach))
        if reading.stopped_at is not None:
            continue
        for level, step in enumerate(milestone.escalation, start=1):
            if clocks.calendar.add(reading.due, timedelta(minutes=step.after_minutes)) <= now:
                found.append(Milestone(f"{metric}:escalation:{level}", step.actions))
    return [m for m in found if m.key not in fired]


def clock_fields(clocks: TicketClocks, model: CompiledModel) -> dict[str, Any]:
    """The stored SLA fields of a ticket as its clocks read now: the due times (they
    change when a calendar or a policy does), the breached flag and the outcomes."""
    readings = clocks.readings
    ticket = model.entity(TICKET)
    values: dict[str, Any] = outcome_fields(
        clocks, lambda name: ticket is not None and ticket.has_field(name))
    for metric, name in (("first_response", "sla_response_due"),
                         ("resolution", "sla_resolution_due")):
        reading = readings.get(metric)
        values[name] = (reading.due.astimezone(UTC).isoformat()
                        if reading is not None and reading.due else None)
    values["sla_breached"] = any(reading.breached for reading in readings.values())
    return values


def _same(stored: Any, fresh: Any) -> bool:
    """Equal as stored: instants at any offset, decimals at any scale, else as they are."""
    if isinstance(stored, str) and isinstance(fresh, str):
        for parse in (datetime.fromisoformat, Decimal):
            try:
                return bool(parse(stored) == parse(fresh))
            except (ValueError, ArithmeticError):
                continue
    return bool(stored == fresh)


def sla_subject(model: CompiledModel, policy: SlaPolicyDef) -> AccessSubject:
    """Whom milestone actions act as: `sla:<policy>` with the model's admin roles."""
    roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
    actor = f"sla:{policy.name}"
    return AccessSubject(user_id=actor, username=actor, roles=roles, is_admin=True)


class MilestoneJob:
    """`job(now)` for the scheduler (`services.periodic["service_desk.sla"]`): at most
    once per `EVERY` for the whole instance (`claim_period`), the scheduler ticking every
    second."""

    def __init__(self, records: RecordsService, teams: TeamDirectory) -> None:
        self._records = records
        self._teams = teams

    def __call__(self, now: datetime) -> None:
        if claim_period(self._records.engine, JOB_NAME, now, EVERY):
            self.run(now)

    def run(self, now: datetime) -> None:
        """Fire what fell due on every ticket not yet closed, and refresh their clocks."""
        model = self._records.runtime().model
        if model.entity(TICKET) is None or not model.sla_policies:
            return
        for record in self._open_tickets(model):
            try:
                self.fire(model, record, now)
            except MetacrmError as error:  # one ticket's refusal must not stop the others
                _log.warning("SLA milestones of ticket %s: %s", record.get("id"), error)

    def _open_tickets(self, model: CompiledModel) -> Iterator[Mapping[str, Any]]:
        closed = sorted(closed_states(model))
        criteria = {"field": "status", "op": "not_in", "value": closed} if closed else None
        system = self._records.runtime().system
        json = self._records.runtime().json
        cursor: str | None = None
        while True:
            with self._records.engine.connect() as conn:
                page = system.query(conn, TICKET, criteria=criteria, limit=PAGE,
                                    cursor=cursor)
            for row in page.records:
                yield json.record(TICKET, row)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def fire(self, model: CompiledModel, record: Mapping[str, Any], now: datetime) -> list[str]:
        """Fire what fell due on one ticket; returns the milestone keys fired."""
        clocks = read_ticket(model, record, now)
        if clocks is None:
            return []
        fired = dict(record.get("sla_fired") or {})
        due = due_milestones(clocks, fired, now)
        current = clock_fields(clocks, model)
        if not due and all(_same(record.get(k), v) for k, v in current.items()):
            return []
        subject = sla_subject(model, clocks.policy)
        ticket_id = str(record["id"])
        with self._records.transaction() as conn:
            changes: dict[str, Any] = {}
            for milestone in due:
                fired[milestone.key] = now.astimezone(UTC).isoformat()
                for action in milestone.actions:
                    changes.update(self._act(conn, model, action, record, milestone, now))
            if changes:
                self._records.update_in(conn, subject, TICKET, ticket_id, changes)
            self._records.runtime().system.update(
                conn, TICKET, ticket_id, {"sla_fired": fired, **current},
                actor=subject.user_id, trusted=True)
        return [milestone.key for milestone in due]

    def _act(self, conn: sa.Connection, model: CompiledModel, action: SlaActionDef,
             record: Mapping[str, Any], milestone: Milestone, now: datetime
             ) -> dict[str, Any]:
        if action.type == "raise_priority":
            return _raised_priority(model, record)
        if action.type == "reassign":
            return {"queue": action.queue}
        for user in self._recipients(conn, action, record):
            store.add(conn, user_id=user, kind=store.AUTOMATION,
                      source=f"sla:{record['id']}:{milestone.key}", at=now, entity=TICKET,
                      record_id=str(record["id"]),
                      message=f"SLA {milestone.key.replace(':', ' ')}: {record.get('subject')}")
        return {}

    def _recipients(self, conn: sa.Connection, action: SlaActionDef,
                    record: Mapping[str, Any]) -> list[str]:
        users: list[str] = []
        for name in action.to:
            if name == "owner" and record.get("owner"):
                users.append(str(record["owner"]))
            elif name == "queue" and record.get("queue"):
                team = str(record["queue"])
                if team in {known.name for known in self._teams.list_teams(conn)}:
                    users.extend(self._teams.members_of(conn, [team]))
            elif name not in ("owner", "queue"):
                users.append(name)
        return sorted(set(users))


def _raised_priority(model: CompiledModel, record: Mapping[str, Any]) -> dict[str, Any]:
    entity = model.entity(TICKET)
    field = entity.field("priority") if entity is not None else None
    if field is None:
        return {}
    order = [choice.value for choice in field.choices]
    current = record.get("priority")
    if current not in order or order.index(current) + 1 >= len(order):
        return {}
    return {"priority": order[order.index(current) + 1]}
