"""Which triggers an event fires: pure functions of the compiled model and the event.

* `record.created` fires `created` triggers;
* `record.updated` fires `updated` triggers, and `field_changed` triggers when a watched
  field is among the changed ones (and the change fits their `from` / `to`);
* `record.transitioned` (a pipeline transition is a change too) fires `transitioned`
  triggers whose filters fit (pipeline, transitions, from_states, to_states), and `updated`
  and `field_changed` triggers as above;
* `record.deleted` fires `deleted` triggers.

A fired trigger then runs only when its `condition` holds on the record after the change
(the deleted record for a deletion) and its `condition_before` on the record before it
(rebuilt from the event's `previous` values). Conditions are criteria predicates; `$user` is
the actor who made the change, `$now` the moment of matching.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metacrm.automation.record_values import python_record, python_value, record_before
from metacrm.criteria.context import CriteriaContext
from metacrm.criteria.predicate import compile_predicate
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.model import CompiledModel, EntityDef, TriggerDef

_log = logging.getLogger(__name__)

CREATED = "record.created"
UPDATED = "record.updated"
TRANSITIONED = "record.transitioned"
DELETED = "record.deleted"

TIME_EVENT = "trigger.time"
"""The event of a work item a time trigger's scheduler submits (a record became due)."""
SCHEDULED_EVENT = "trigger.scheduled"
"""The event of a work item a cron trigger's scheduler submits (a cron slot came)."""

FIRES: Mapping[str, tuple[str, ...]] = {
    CREATED: ("created",),
    UPDATED: ("updated", "field_changed"),
    TRANSITIONED: ("transitioned", "updated", "field_changed"),
    DELETED: ("deleted",),
}
"""Event type -> the trigger events it may fire."""


@dataclass(frozen=True, slots=True)
class Transition:
    """The pipeline transition a `record.transitioned` event reports."""

    pipeline: str
    name: str
    from_state: str | None
    to_state: str | None


@dataclass(frozen=True, slots=True)
class RecordChange:
    """What an event says happened to one record (values in JSON form)."""

    event_type: str
    entity: str
    record_id: str
    record: Mapping[str, Any]
    """The record after the change (for a deletion: the deleted record)."""
    changed: tuple[str, ...] = ()
    previous: Mapping[str, Any] = field(default_factory=dict)
    """The changed fields' values before the change."""
    transition: Transition | None = None
    actor: str | None = None

    @property
    def before(self) -> dict[str, Any]:
        return record_before(self.record, self.previous)


def change_of(event_type: str, payload: Mapping[str, Any]) -> RecordChange | None:
    """The change a `record.*` event payload describes; None for other events (or a payload
    that is not one: events of other producers)."""
    if event_type not in FIRES:
        return None
    record = payload.get("record")
    entity = payload.get("entity")
    if not isinstance(record, Mapping) or not isinstance(entity, str):
        return None
    previous = payload.get("previous")
    previous = dict(previous) if isinstance(previous, Mapping) else {}
    changed = payload.get("changed")
    changed_fields = (tuple(str(name) for name in changed) if isinstance(changed, list | tuple)
                      else tuple(previous))
    actor = payload.get("actor")
    return RecordChange(
        event_type=event_type,
        entity=entity,
        record_id=str(payload.get("id") or record.get("id")),
        record=dict(record),
        changed=changed_fields,
        previous=previous,
        transition=_transition(payload.get("transition")),
        actor=actor if isinstance(actor, str) else None,
    )


def _transition(raw: Any) -> Transition | None:
    if not isinstance(raw, Mapping):
        return None
    return Transition(pipeline=str(raw.get("pipeline") or ""), name=str(raw.get("name") or ""),
                      from_state=_text(raw.get("from")), to_state=_text(raw.get("to")))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class TriggerMatcher:
    """The triggers of one compiled model, indexed by entity and event."""

    def __init__(self, model: CompiledModel, registry: FieldTypeRegistry) -> None:
        self.model = model
        self.registry = registry
        self._by_key: dict[tuple[str, str], list[TriggerDef]] = {}
        for trigger in sorted(model.triggers.values(), key=lambda t: t.name):
            if trigger.enabled:
                self._by_key.setdefault((trigger.entity, trigger.event), []).append(trigger)

    def triggers_of(self, event: str) -> list[TriggerDef]:
        """The enabled triggers of one trigger event (`time`, `scheduled`...), by name."""
        return [t for (_entity, kind), found in sorted(self._by_key.items()) if kind == event
                for t in found]

    def fired(self, change: RecordChange, *, mode: str | None = None) -> list[TriggerDef]:
        """The enabled triggers (of `mode`, when given) whose event fits `change`, before
        their conditions are checked; in name order."""
        found = [
            trigger
            for kind in FIRES.get(change.event_type, ())
            for trigger in self._by_key.get((change.entity, kind), ())
            if (mode is None or trigger.mode == mode) and self.event_fits(trigger, change)
        ]
        return sorted(found, key=lambda t: t.name)

    def event_fits(self, trigger: TriggerDef, change: RecordChange) -> bool:
        """Whether the change is an event of the trigger's kind that passes its filters."""
        if trigger.entity != change.entity:
            return False
        if trigger.event not in FIRES.get(change.event_type, ()):
            return False
        if trigger.event == "field_changed":
            return self._field_change_fits(trigger, change)
        if trigger.event == "transitioned":
            return _transition_fits(trigger, change.transition)
        return True

    def condition_holds(
        self, trigger: TriggerDef, change: RecordChange, now: datetime
    ) -> bool:
        """`condition` on the record after the change, `condition_before` on the one before."""
        entity = self.model.entity(trigger.entity)
        if entity is None:
            return False
        context = CriteriaContext(change.actor, (), now)
        if trigger.condition is not None and not self._holds(
                trigger, trigger.condition, entity, change.record, context):
            return False
        return trigger.condition_before is None or self._holds(
            trigger, trigger.condition_before, entity, change.before, context)

    def matches(self, trigger: TriggerDef, change: RecordChange, now: datetime) -> bool:
        return self.event_fits(trigger, change) and self.condition_holds(trigger, change, now)

    def holds_on(
        self, trigger: TriggerDef, record: Mapping[str, Any], now: datetime
    ) -> bool:
        """`condition` on a record as it is now (time and cron triggers, reloaded records)."""
        entity = self.model.entity(trigger.entity)
        if entity is None:
            return False
        if trigger.condition is None:
            return True
        return self._holds(trigger, trigger.condition, entity, record,
                           CriteriaContext(None, (), now))

    def _holds(
        self, trigger: TriggerDef, tree: Any, entity: EntityDef, record: Mapping[str, Any],
        context: CriteriaContext,
    ) -> bool:
        try:
            predicate = compile_predicate(tree, entity, self.registry, context)
        except ValidationFailed as exc:  # the model was checked: only a bug lands here
            _log.error("trigger %r: its condition does not compile: %s", trigger.name, exc)
            return False
        return predicate(python_record(entity, self.registry, record))

    def _field_change_fits(self, trigger: TriggerDef, change: RecordChange) -> bool:
        watched: Sequence[str] = trigger.options.get("fields", ())
        if not set(watched) & set(change.changed):
            return False
        if "from" not in trigger.options and "to" not in trigger.options:
            return True
        name = watched[0]
        entity = self.model.entity(trigger.entity)
        if entity is None or name not in change.changed:
            return False
        old = self._value(entity, name, change.previous.get(name))
        new = self._value(entity, name, change.record.get(name))
        return (self._among(entity, name, old, trigger.options.get("from"))
                and self._among(entity, name, new, trigger.options.get("to")))

    def _value(self, entity: EntityDef, name: str, value: Any) -> Any:
        normalized = python_value(entity, self.registry, name, value)
        return None if normalized in ((), "") else normalized

    def _among(self, entity: EntityDef, name: str, value: Any, allowed: Any) -> bool:
        if allowed is None:
            return True
        return any(value == self._value(entity, name, _thawed(item)) for item in allowed)


def _thawed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _transition_fits(trigger: TriggerDef, transition: Transition | None) -> bool:
    if transition is None:
        return False
    options = trigger.options
    pipeline = options.get("pipeline")
    if pipeline is not None and pipeline != transition.pipeline:
        return False
    checks = (("transitions", transition.name), ("from_states", transition.from_state),
              ("to_states", transition.to_state))
    return all(key not in options or value in options[key] for key, value in checks)
