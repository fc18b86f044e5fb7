"""Try a trigger on a record without changing anything.

`dry_run(automation, name, record_id, previous)` builds the change the trigger's event would
see — the record as it is now, and `previous` (the values before, as the caller imagines
them) for updated / field_changed / transitioned triggers — and reports whether the trigger
would fire (`matches`: event filters and conditions), whether its conditions hold
(`condition`; for time and cron triggers `matches` is the condition, due or not), and what
each action would do: the actions run with `dry_run=True` (they contact nothing outside the
database) on a connection whose transaction is always ROLLED BACK, so whatever they write
while describing themselves is undone, no event is published and no chain continues.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from metacrm.access.scoped_reads import storable_id
from metacrm.automation.matching import (
    CREATED,
    DELETED,
    TRANSITIONED,
    UPDATED,
    RecordChange,
    Transition,
)
from metacrm.automation.runner import RunTarget
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.metadata.model import CompiledModel, EntityDef, TriggerDef
from metacrm.storage.outbox import collect_events
from metacrm.storage.system_tables import outbox

if TYPE_CHECKING:
    from metacrm.automation.service import AutomationService

EVENT_OF = {"created": CREATED, "deleted": DELETED, "updated": UPDATED,
            "field_changed": UPDATED, "transitioned": TRANSITIONED}
"""The record event a trigger's event is tried with."""
SCHEDULED_EVENTS = ("time", "scheduled")
"""Trigger events without a record event: `matches` is their condition (due or not)."""

_TAKE_WRITE_LOCK = sa.update(outbox).where(sa.false()).values(published_at=None)


def dry_run(
    automation: AutomationService, name: Any, record_id: Any,
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    model = automation.model()
    trigger = model.triggers.get(name) if isinstance(name, str) else None
    if trigger is None:
        raise NotFound(f"there is no trigger {name!r}",
                       [ErrorDetail("no such trigger", "")])
    entity = model.entity(trigger.entity)
    assert entity is not None  # the compiler checked it
    previous = _checked_previous(entity, record_id, previous)
    runtime = automation.services.records.runtime()
    now = automation.now()
    with automation.services.engine.connect() as conn:
        transaction = conn.begin()
        try:
            if conn.dialect.name == "sqlite":  # as write_transaction: no lock upgrade later
                conn.execute(_TAKE_WRITE_LOCK)
            current = (runtime.system.get(conn, trigger.entity, record_id)
                       if storable_id(record_id) else None)
            if current is None:
                raise NotFound(f"{trigger.entity} record {record_id} does not exist",
                               [ErrorDetail("no such record", "/record_id")])
            record = runtime.json.record(trigger.entity, current)
            matcher = automation.matcher()
            if trigger.event in SCHEDULED_EVENTS:  # fires for records matching its condition
                condition = matcher.holds_on(trigger, record, now)
                matches = trigger.enabled and condition
            else:
                change = _change(model, trigger, record, previous)
                condition = matcher.condition_holds(trigger, change, now)
                matches = trigger.enabled and matcher.event_fits(trigger, change) and condition
            target = RunTarget(trigger.entity, str(record["id"]), record, previous, None)
            with collect_events(conn):
                actions = automation.runner.run(conn, trigger, target, now=now,
                                                dry_run=True)
        finally:
            transaction.rollback()
    return {"trigger": trigger.name, "record_id": str(record["id"]), "matches": matches,
            "condition": condition, "enabled": trigger.enabled, "actions": actions}


def _checked_previous(
    entity: EntityDef, record_id: Any, previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    errors: list[ErrorDetail] = []
    if not isinstance(record_id, str) or not record_id:
        errors.append(ErrorDetail("must be the id of a record", "/record_id"))
    if previous is None:
        previous = {}
    elif not isinstance(previous, Mapping):
        errors.append(ErrorDetail("must be an object of field values", "/previous"))
        previous = {}
    for key in previous:
        if not entity.has_field(key) and key != "owner":
            errors.append(ErrorDetail(f"unknown field of entity '{entity.name}'",
                                      f"/previous/{key}"))
    if errors:
        raise ValidationFailed("invalid trigger test", errors)
    return dict(previous)


def _change(
    model: CompiledModel, trigger: TriggerDef, record: Mapping[str, Any],
    previous: Mapping[str, Any],
) -> RecordChange:
    event_type = EVENT_OF.get(trigger.event, UPDATED)
    changed = tuple(name for name, value in previous.items() if record.get(name) != value)
    transition = (_transition(model, trigger, record, previous)
                  if event_type == TRANSITIONED else None)
    return RecordChange(event_type=event_type, entity=trigger.entity,
                        record_id=str(record["id"]), record=record, changed=changed,
                        previous={name: previous[name] for name in changed},
                        transition=transition)


def _transition(
    model: CompiledModel, trigger: TriggerDef, record: Mapping[str, Any],
    previous: Mapping[str, Any],
) -> Transition | None:
    """The transition from the previous state to the current one, if the pipeline has it."""
    named = trigger.options.get("pipeline")
    pipelines = [p for p in model.pipelines.values() if p.entity == trigger.entity
                 and (named is None or p.name == named)]
    entity = model.entity(trigger.entity)
    if len(pipelines) != 1 or entity is None:
        return None
    pipeline = pipelines[0]
    state_field = next((f.name for f in entity.fields
                        if f.type == "state" and f.option("pipeline") == pipeline.name), None)
    if state_field is None:
        return None
    to_state = record.get(state_field)
    from_state = previous.get(state_field, to_state)
    move = next((t for t in pipeline.transitions
                 if t.to_state == to_state and from_state in t.from_states), None)
    return Transition(pipeline.name, move.name if move is not None else "",
                      from_state if isinstance(from_state, str) else None,
                      to_state if isinstance(to_state, str) else None)
