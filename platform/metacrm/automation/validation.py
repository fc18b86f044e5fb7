"""Trigger actions checked against the actions registry when metadata is planned or applied.

The compiler cannot check actions — they are registered above the metadata layer — so the
automation feature adds this check to `MetadataService` (`add_validator`): an unknown action
type names the registered ones; bad parameters are the action's own `check` errors, pointing
into the document at `/actions/<i>/params/...`. Errors name the trigger's file, like every
other metadata error.
"""

from __future__ import annotations

from collections.abc import Callable

from metacrm.automation.actions import ActionRegistry
from metacrm.automation.runner import thaw
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import CompiledModel
from metacrm.metadata.schema_errors import did_you_mean


def action_checker(actions: ActionRegistry) -> Callable[[CompiledModel], list[ErrorDetail]]:
    """The validator checking every trigger action of a model against `actions`."""

    def check(model: CompiledModel) -> list[ErrorDetail]:
        return check_actions(model, actions)

    return check


def check_actions(model: CompiledModel, actions: ActionRegistry) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    for trigger in sorted(model.triggers.values(), key=lambda t: t.name):
        source = trigger.source.file
        entity = model.entity(trigger.entity)
        if entity is None:
            continue
        for index, definition in enumerate(trigger.actions):
            pointer = f"/actions/{index}"
            action = actions.get(definition.type)
            if action is None:
                known = actions.names()
                errors.append(ErrorDetail(
                    f"unknown action type '{definition.type}'"
                    + did_you_mean(definition.type, known)
                    + f"; registered actions: {', '.join(known) or 'none'}",
                    f"{pointer}/type", source))
                continue
            try:
                found = action.check(thaw(definition.params), entity, model)
            except Exception as exc:  # a broken action must not break every metadata change
                errors.append(ErrorDetail(
                    f"action '{definition.type}' could not check its params: "
                    f"{type(exc).__name__}: {exc}", f"{pointer}/params", source))
                continue
            errors.extend(ErrorDetail(detail.message, f"{pointer}/params{detail.pointer}",
                                      source) for detail in found)
    return errors
