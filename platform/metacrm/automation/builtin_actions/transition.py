"""`transition`: move the record along its pipeline, as a user's transition would.

`{"name": "<transition>", "values": {...}}` — through the transitions feature
(`services.transitions.service`): its role rules (the automation holds admin roles), start
states and guards apply; `values` (literal, template or formula each) are written with the move.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.automation.actions import ActionContext
from metacrm.automation.builtin_actions.support import (
    ActionSupport,
    is_name,
    param_errors,
    record_id,
)
from metacrm.automation.builtin_actions.values import ValueForms
from metacrm.kernel.errors import Conflict, ErrorDetail, MetacrmError
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.services.transitions.guards import find

FEATURE = "transitions"


class Transitions(Protocol):
    """What this action uses of the transitions feature."""

    def transition_in(
        self, conn: sa.Connection, subject: AccessSubject, entity: str, record_id: str,
        name: str, values: Mapping[str, Any] | None = None, *,
        expected_version: int | None = None,
    ) -> dict[str, Any]: ...


class TransitionsMissing(MetacrmError):
    status = 503
    title = "Transitions are not available"


def transition_names(entity: EntityDef, model: CompiledModel) -> list[str]:
    """The transitions of the entity's pipelines (those of its state fields)."""
    names = []
    for fdef in entity.fields:
        pipeline = model.pipelines.get(str(fdef.option("pipeline", "")))
        if fdef.type == "state" and pipeline is not None:
            names += [transition.name for transition in pipeline.transitions]
    return names


class Transition:
    """The `transition` action."""

    name = "transition"

    def __init__(self, support: ActionSupport) -> None:
        self.support = support
        self.values = ValueForms(support)

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        errors = param_errors(params, required=("name",), optional=("values",))
        if not isinstance(params, Mapping):
            return errors
        known = transition_names(entity, model)
        name = params.get("name")
        if "name" in params and (not is_name(name) or name not in known):
            errors.append(ErrorDetail(
                f"{entity.name} has no transition {name!r}; transitions: "
                f"{', '.join(known) or 'none'}", "/name"))
        if "values" in params:
            errors += self.values.check(params["values"], source=entity, target=entity,
                                        pointer="/values")
        return errors

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        entity = self.support.entity(context.entity)
        values = self.values.resolve(params.get("values", {}), target=entity,
                                     variables=self.support.variables(context),
                                     pointer="/values")
        name = params["name"]
        summary: dict[str, Any] = {"entity": context.entity, "id": record_id(context),
                                   "transition": name}
        if context.dry_run:
            return {"would_transition": self._describe(context, name, values, summary)}
        service = self._service()
        record = service.transition_in(context.conn, context.subject, context.entity,
                                       summary["id"], name, values or None)
        moved = find(self.support.runtime().states, context.entity, name)
        return {"transitioned": {**summary, "state": record.get(moved.field)}}

    def _describe(
        self, context: ActionContext, name: str, values: Mapping[str, Any],
        summary: dict[str, Any],
    ) -> dict[str, Any]:
        transition = find(self.support.runtime().states, context.entity, name)
        if not transition.leaves(context.record):
            state = context.record.get(transition.field)
            raise Conflict(f"the record is in state {state!r}; transition {name!r} does not "
                           "start there", [ErrorDetail(f"is {state!r}", "/name")])
        self.values.validate(values, target=self.support.entity(context.entity),
                             pointer="/values")
        return {**summary, "from": context.record.get(transition.field),
                "to": transition.definition.to_state, "values": dict(values)}

    def _service(self) -> Transitions:
        service = getattr(self.support.services, "transitions", None)
        if service is None:
            raise TransitionsMissing("the transitions feature is not installed in this "
                                     "process (metacrm.services.transitions.service)")
        return cast(Transitions, service)
