"""Pipelines' say on plain record writes: state fields move only through transitions.

A `state` field holds the name of a state of its pipeline. A new record starts in the
pipeline's initial state (set by the engine when the payload leaves the field out; a payload
may name the initial state, no other). After that the state changes only through a
transition (the pipelines issue), so an update naming a different state is refused with 422.
A record with no state yet (created before the field existed) may be given the initial one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import CompiledModel, PipelineDef

StateFields = tuple[tuple[str, PipelineDef], ...]


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
                f"changes only through a transition of pipeline {pipeline.name!r}",
                f"{prefix}/{name}"))
        if errors:
            raise ValidationFailed(f"invalid {entity} changes", errors)
