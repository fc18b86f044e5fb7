"""Compile pipeline documents: states, transitions, their guards, the initial state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from metacrm.metadata.compiler.context import CompileContext, Reporter, suggestion
from metacrm.metadata.compiler.freeze import labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import EntityDef, PipelineDef, SourceRef, StateDef, TransitionDef


def build_pipeline(document: Document, context: CompileContext) -> PipelineDef:
    """The PipelineDef of one pipeline document (entity fields are checked later)."""
    body = document.body
    report = context.reporter(document.source)
    states = tuple(
        StateDef(
            name=str(raw["name"]),
            label=labels(raw.get("label")),
            category=str(raw.get("category", "open")),
            probability=raw.get("probability"),
            forecast_category=raw.get("forecast_category"),
            color=raw.get("color"),
            locked=bool(raw.get("locked", False)),
            unlocked_for=names(raw.get("unlocked_for")),
        )
        for raw in body["states"]
    )
    transitions = tuple(
        TransitionDef(
            name=str(raw["name"]),
            label=labels(raw.get("label")),
            from_states=("*",) if raw["from"] == "*" else names(raw["from"]),
            to_state=str(raw["to"]),
            required_fields=names(raw.get("required_fields")),
            condition=raw.get("condition"),
            roles=names(raw.get("roles")),
        )
        for raw in body.get("transitions", ())
    )
    _duplicates((state.name for state in states), "state", "/states", report)
    _duplicates((t.name for t in transitions), "transition", "/transitions", report)
    state_names = [state.name for state in states]
    initial = body.get("initial_state", state_names[0] if state_names else "")
    if "initial_state" in body:
        _check_state(initial, state_names, report, "/initial_state")
    for index, transition in enumerate(transitions):
        pointer = f"/transitions/{index}"
        if transition.from_states != ("*",):
            for number, name in enumerate(transition.from_states):
                _check_state(name, state_names, report, f"{pointer}/from/{number}")
        _check_state(transition.to_state, state_names, report, f"{pointer}/to")
    return PipelineDef(
        name=document.name,
        label=labels(body.get("label")),
        entity=str(body["entity"]),
        states=states,
        transitions=transitions,
        initial_state=str(initial),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def check_pipeline(pipeline: PipelineDef, context: CompileContext) -> None:
    """Checks against other documents: the entity, its fields, roles, transition guards."""
    report = context.reporter(pipeline.source.file)
    for index, state in enumerate(pipeline.states):
        context.check_roles(state.unlocked_for, report, f"/states/{index}/unlocked_for")
    for index, transition in enumerate(pipeline.transitions):
        context.check_roles(transition.roles, report, f"/transitions/{index}/roles")
    entity = context.entity(pipeline.entity, report, "/entity")
    if entity is None:
        return
    _check_state_field(pipeline, entity, report)
    _check_unique_in_entity(pipeline, context, report)
    for index, transition in enumerate(pipeline.transitions):
        pointer = f"/transitions/{index}"
        for number, name in enumerate(transition.required_fields):
            context.check_field(entity, name, report, f"{pointer}/required_fields/{number}")
        if transition.condition is not None:
            context.check_criteria(transition.condition, entity, report, f"{pointer}/condition")


def _check_state_field(pipeline: PipelineDef, entity: EntityDef, report: Reporter) -> None:
    """The entity must have exactly one state field holding this pipeline's state."""
    holders = [f.name for f in entity.fields
               if f.type == "state" and f.option("pipeline") == pipeline.name]
    if not holders:
        report.error(f"entity '{entity.name}' has no state field for this pipeline: add a "
                     f"field of type 'state' with \"pipeline\": \"{pipeline.name}\"", "/entity")
    elif len(holders) > 1:
        report.error(f"entity '{entity.name}' has several state fields for this pipeline "
                     f"({', '.join(holders)}); a pipeline drives one field", "/entity")


def _check_unique_in_entity(
    pipeline: PipelineDef, context: CompileContext, report: Reporter
) -> None:
    """Transition names are unique across the pipelines of one entity: the API names a
    transition by entity and name. Reported in the pipeline whose name sorts later."""
    earlier = {
        transition.name: other.name
        for other in context.pipelines.values()
        if other.entity == pipeline.entity and other.name < pipeline.name
        for transition in other.transitions
    }
    for index, transition in enumerate(pipeline.transitions):
        if transition.name in earlier:
            report.error(f"transition name '{transition.name}' is also used by pipeline "
                         f"'{earlier[transition.name]}' of entity '{pipeline.entity}'; "
                         "transition names must be unique per entity",
                         f"/transitions/{index}/name")


def _check_state(name: Any, state_names: list[str], report: Reporter, pointer: str) -> None:
    if name not in state_names:
        report.error(f"unknown state '{name}'" + suggestion(str(name), state_names), pointer)


def _duplicates(items: Iterable[str], what: str, pointer: str, report: Reporter) -> None:
    seen: set[str] = set()
    for index, name in enumerate(items):
        if name in seen:
            report.error(f"duplicate {what} name '{name}'", f"{pointer}/{index}/name")
        seen.add(name)
