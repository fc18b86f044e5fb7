"""Pipelines' say on plain record writes: state fields move only through transitions.

A `state` field holds the name of a state of its pipeline. A new record starts in the
pipeline's initial state (set by the engine when the payload leaves the field out; a payload
may name the initial state, no other). After that the state changes only through a
transition (the pipelines issue), so an update naming a different state is refused with 422.
A record with no state yet (created before the field existed) may be given the initial one.

Locked states (`StateDef.locked`) make a record read-only for plain writes: update, bulk
update and delete are refused with 403 unless the subject holds a role of the state's
`unlocked_for` or an admin role (`check_unlocked`, `guard`). Transitions out of a locked
state are not edits: the transition service applies its own role rules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from metacrm.kernel.errors import ErrorDetail, Forbidden, ValidationFailed
from metacrm.metadata.model import CompiledModel, PipelineDef, StateDef, TransitionDef

StateFields = tuple[tuple[str, PipelineDef], ...]
WriteGuard = Callable[[Mapping[str, Any], Mapping[str, Any]], None]
"""Checks a plain write's planned changes against the current record (raises to refuse)."""


class RecordLocked(Forbidden):
    """A plain write refused because the record is in a state locked for the subject."""


def _state_name(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class StateRules:
    """The state fields of every entity of one model, with their pipelines."""

    def __init__(self, model: CompiledModel) -> None:
        self._fields: dict[str, StateFields] = {}
        for name, entity in model.entities.items():
            found = []
            for fdef in entity.fields:
                pipeline = model.pipelines.get(str(fdef.option("pipeline", "")))
                if fdef.type == "state" and pipeline is not None:
                    found.append((fdef.name, pipeline))
            self._fields[name] = tuple(found)

    def initial_values(
        self, entity: str, values: Any, prefix: str, errors: list[ErrorDetail]
    ) -> dict[str, Any]:
        """The states the engine sets on a new record; problems with given ones go to
        `errors` (pointer `<prefix>/<field>`)."""
        engine_values: dict[str, Any] = {}
        given = values if isinstance(values, Mapping) else {}
        for name, pipeline in self._fields.get(entity, ()):
            value = _state_name(given.get(name))
            if value is None:
                engine_values[name] = pipeline.initial_state
            elif value != pipeline.initial_state:
                errors.append(ErrorDetail(self._create_refusal(pipeline, value),
                                          f"{prefix}/{name}"))
        return engine_values

    def _create_refusal(self, pipeline: PipelineDef, value: Any) -> str:
        if value not in pipeline.state_names:
            return (f"is not a state of pipeline {pipeline.name!r}; states: "
                    f"{', '.join(pipeline.state_names)}")
        return (f"a new record starts in the initial state {pipeline.initial_state!r} of "
                f"pipeline {pipeline.name!r}; move it on with a transition")

    def check_changes(
        self, entity: str, current: Mapping[str, Any], changes: Mapping[str, Any],
        prefix: str = "",
    ) -> None:
        """Refuse changes that move a state (the unchanged ones were already dropped)."""
        errors = []
        for name, pipeline in self._fields.get(entity, ()):
            if name not in changes:
                continue
            value = _state_name(changes[name])
            if current.get(name) is None and value == pipeline.initial_state:
                continue
            errors.append(ErrorDetail(
                f"changes only through a transition of pipeline {pipeline.name!r}"
                + _ways_out(pipeline, current.get(name)),
                f"{prefix}/{name}"))
        if errors:
            raise ValidationFailed(f"invalid {entity} changes", errors)

    # --- locked states -------------------------------------------------------------------

    def fields(self, entity: str) -> StateFields:
        """The entity's state fields with their pipelines (none: empty)."""
        return self._fields.get(entity, ())

    def has_locks(self, entity: str) -> bool:
        """True when a pipeline of the entity has a locked state."""
        return any(state.locked for _name, pipeline in self.fields(entity)
                   for state in pipeline.states)

    def check_unlocked(
        self, entity: str, record: Mapping[str, Any], roles: Collection[str], *, admin: bool,
        prefix: str = "",
    ) -> None:
        """Forbidden (403) when `record` is in a locked state and the subject (its `roles`,
        `admin`: holds an admin role) is neither an admin nor one the state unlocks for."""
        if admin:
            return
        errors = [
            ErrorDetail(_lock_message(pipeline, state), f"{prefix}/{name}")
            for name, pipeline, state in self._locked_states(entity, record)
            if not set(state.unlocked_for) & set(roles)
        ]
        if errors:
            raise RecordLocked(f"the {entity} record is in a locked state", errors)

    def _locked_states(
        self, entity: str, record: Mapping[str, Any]
    ) -> list[tuple[str, PipelineDef, StateDef]]:
        found = []
        for name, pipeline in self.fields(entity):
            value = record.get(name)
            state = pipeline.state(value) if isinstance(value, str) else None
            if state is not None and state.locked:
                found.append((name, pipeline, state))
        return found

    def guard(self, entity: str, roles: Collection[str], *, admin: bool) -> WriteGuard:
        """The check of a plain update: the record must not be locked for the subject, and
        its states may not move (see `check_unlocked`, `check_changes`)."""

        def check(current: Mapping[str, Any], planned: Mapping[str, Any]) -> None:
            self.check_unlocked(entity, current, roles, admin=admin)
            self.check_changes(entity, current, planned)

        return check


def leaves(transition: TransitionDef, state: Any) -> bool:
    """True when `transition` may start from `state`: it lists the state, or its `from` is
    "*" (any state but the one it leads to)."""
    if transition.from_states == ("*",):
        return bool(state != transition.to_state)
    return state in transition.from_states


def _ways_out(pipeline: PipelineDef, state: Any) -> str:
    """`; from 'proposal': negotiate (→ negotiation), win (→ won)` for a refusal message."""
    if state is None:
        return ""
    moves = [f"{t.name} (→ {t.to_state})" for t in pipeline.transitions if leaves(t, state)]
    return f"; from {state!r}: {', '.join(moves) if moves else 'no transition'}"


def _lock_message(pipeline: PipelineDef, state: StateDef) -> str:
    editors = [*state.unlocked_for, "an admin role"]
    return (f"the record is in the locked state {state.name!r} of pipeline "
            f"{pipeline.name!r}; only {' or '.join(editors)} may still edit it (a transition "
            f"may move it out)")
