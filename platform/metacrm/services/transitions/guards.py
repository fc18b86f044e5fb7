"""What decides whether a pipeline transition may happen: where it is, who may, its guards.

Pure functions over the compiled model (no database): the transition service
(`services.transitions.service`) loads the record, asks here, then writes.

* Finding: a transition is named by entity and name — names are unique across the pipelines
  of one entity (the compiler checks it), so `find` needs no pipeline name.
* Roles: an admin role may perform every transition. Anyone else needs a role whose
  `transitions` grant for the pipeline lists the transition (or `*`), and — when the
  transition names `roles` — one of those roles too.
* Guards, on the record as it will be: every `required_fields` field has a value, and the
  `condition` (a criteria tree) matches.
* Conversions: a transition into a state a `conversion` document leads to belongs to that
  conversion (`conversion_of`); performed alone it would close the record without making
  the records the conversion makes, so it is refused (`ConversionRequired`, 409) unless the
  conversion itself performs it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.criteria.context import CriteriaContext
from metacrm.criteria.predicate import CriteriaTypes, compile_predicate
from metacrm.kernel.errors import Conflict, ErrorDetail, Forbidden, NotFound
from metacrm.metadata.model import (
    CompiledModel,
    ConversionDef,
    PipelineDef,
    RoleDef,
    TransitionDef,
)
from metacrm.services.transitions.pipeline_states import StateRules, leaves

ANY = "*"


@dataclass(frozen=True, slots=True)
class EntityTransition:
    """A transition of one of an entity's pipelines, with the state field it moves."""

    field: str
    pipeline: PipelineDef
    definition: TransitionDef

    @property
    def name(self) -> str:
        return self.definition.name

    def leaves(self, record: Mapping[str, Any]) -> bool:
        """True when the transition may start from the record's current state."""
        return leaves(self.definition, record.get(self.field))

    def describe(self) -> dict[str, Any]:
        """The JSON facts of the transition (labels are `{language: text}`)."""
        target = self.pipeline.state(self.definition.to_state)
        return {
            "name": self.name,
            "label": dict(self.definition.label),
            "pipeline": self.pipeline.name,
            "field": self.field,
            "from": (ANY if self.definition.from_states == (ANY,)
                     else list(self.definition.from_states)),
            "to": self.definition.to_state,
            "to_label": dict(target.label) if target is not None else {},
        }

    def facts(self, state_before: Any) -> dict[str, Any]:
        """The `transition` part of a record.transitioned event."""
        return {"pipeline": self.pipeline.name, "name": self.name, "from": state_before,
                "to": self.definition.to_state}


def entity_transitions(states: StateRules, entity: str) -> list[EntityTransition]:
    """Every transition of the entity's pipelines, in declaration order."""
    return [EntityTransition(field, pipeline, transition)
            for field, pipeline in states.fields(entity)
            for transition in pipeline.transitions]


def find(states: StateRules, entity: str, name: Any) -> EntityTransition:
    """The entity's transition `name`; NotFound (404) naming the ones it has."""
    known = entity_transitions(states, entity)
    for transition in known:
        if transition.name == name:
            return transition
    names = ", ".join(t.name for t in known) or "none"
    raise NotFound(f"{entity} has no transition {name!r}",
                   [ErrorDetail(f"no such transition; transitions of {entity}: {names}",
                                "/name")])


# --- conversions -------------------------------------------------------------------------


def conversion_of(model: CompiledModel, transition: EntityTransition) -> ConversionDef | None:
    """The conversion that owns `transition`: one of the entity's conversions whose own
    transition, in the same pipeline, leads to the state `transition` leads to."""
    for conversion in sorted(model.conversions.values(), key=lambda c: c.name):
        if conversion.entity != transition.pipeline.entity:
            continue
        own = next((t for t in transition.pipeline.transitions
                    if t.name == conversion.transition), None)
        if own is not None and own.to_state == transition.definition.to_state:
            return conversion
    return None


class ConversionRequired(Conflict):
    """A transition only its conversion may perform was asked for on its own (409)."""

    def __init__(self, entity: str, record_id: str, transition: EntityTransition,
                 conversion: ConversionDef) -> None:
        super().__init__(
            f"transition {transition.name!r} leads to {transition.definition.to_state!r}, "
            f"which only conversion {conversion.name!r} reaches: convert the record instead, "
            "so the records it makes are made too",
            [ErrorDetail(f"is performed by conversion {conversion.name!r}", "/name")])
        self.entity = entity
        self.record_id = record_id
        self.conversion = conversion.name


# --- roles -------------------------------------------------------------------------------


def _grants(role: RoleDef, transition: EntityTransition) -> bool:
    allowed = role.transitions.get(transition.pipeline.name, ())
    return ANY in allowed or transition.name in allowed


def may_perform(
    model: CompiledModel, roles: Collection[str], transition: EntityTransition, *,
    admin: bool,
) -> bool:
    """True when a subject with `roles` (`admin`: one is an admin role) may perform it."""
    if admin:
        return True
    known = [model.roles[name] for name in set(roles) if name in model.roles]
    restricted_to = transition.definition.roles
    return (any(_grants(role, transition) for role in known)
            and (not restricted_to or any(role.name in restricted_to for role in known)))


def roles_that_may(model: CompiledModel, transition: EntityTransition) -> list[str]:
    """The roles that alone let a user perform the transition (admin roles last)."""
    restricted_to = transition.definition.roles
    granted = sorted(
        name for name, role in model.roles.items()
        if not role.admin and _grants(role, transition)
        and (not restricted_to or name in restricted_to)
    )
    return granted + sorted(name for name, role in model.roles.items() if role.admin)


def refuse_role(model: CompiledModel, transition: EntityTransition) -> Forbidden:
    """The 403 for a subject whose roles may not perform the transition."""
    who = ", ".join(roles_that_may(model, transition)) or "no role"
    return Forbidden(
        f"your roles may not perform transition {transition.name!r} of pipeline "
        f"{transition.pipeline.name!r}",
        [ErrorDetail(f"only these roles may perform it: {who}", "/name")])


# --- guards ------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | tuple | list | dict) and not value)


@dataclass(frozen=True, slots=True)
class GuardResult:
    """How a record fares against a transition's guards."""

    missing: tuple[str, ...]
    """Required fields without a value."""
    condition_met: bool
    failed: tuple[str, ...] = ()
    """JSON Pointers (`/condition`, `/condition/and/1`…) of the condition's parts the record
    fails: the parts of a top-level `and` one by one, else the whole condition."""

    @property
    def passed(self) -> bool:
        return not self.missing and self.condition_met

    def errors(self, transition: EntityTransition) -> list[ErrorDetail]:
        """One error per missing field (`/values/<field>`), one for the condition."""
        found = [ErrorDetail(f"is required by transition {transition.name!r}",
                             f"/values/{name}") for name in self.missing]
        found.extend(ErrorDetail(
            f"the condition of transition {transition.name!r} is not met by the record",
            pointer) for pointer in self.failed)
        return found


def check_guards(
    model: CompiledModel, registry: CriteriaTypes, transition: EntityTransition,
    record: Mapping[str, Any], context: CriteriaContext,
) -> GuardResult:
    """Evaluate the guards on `record` (normalised Python values, hidden fields included)."""
    definition = transition.definition
    missing = tuple(name for name in definition.required_fields if _empty(record.get(name)))
    condition_met = True
    failed: tuple[str, ...] = ()
    if definition.condition is not None:
        entity = model.entities[transition.pipeline.entity]
        predicate = compile_predicate(definition.condition, entity, registry, context)
        condition_met = bool(predicate(record))
        if not condition_met:
            failed = tuple(
                pointer for pointer, part in _conjuncts(definition.condition, "/condition")
                if not compile_predicate(part, entity, registry, context)(record)
            ) or ("/condition",)
    return GuardResult(missing, condition_met, failed)


def _conjuncts(tree: Any, pointer: str) -> list[tuple[str, Any]]:
    """The parts of nested top-level `and`s with their pointers (else the tree itself), so
    a refusal names each part the record fails rather than the whole condition."""
    if isinstance(tree, Mapping) and set(tree) == {"and"} and isinstance(
            tree["and"], list | tuple) and tree["and"]:
        return [found for index, part in enumerate(tree["and"])
                for found in _conjuncts(part, f"{pointer}/and/{index}")]
    return [(pointer, tree)]
