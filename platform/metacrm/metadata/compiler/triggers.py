"""Compile trigger documents: the event and its options, the condition, the actions."""

from __future__ import annotations

from types import MappingProxyType

from metacrm.metadata.compiler.context import CompileContext, Reporter, suggestion
from metacrm.metadata.compiler.freeze import freeze, labels
from metacrm.metadata.documents import Document
from metacrm.metadata.model import (
    EMPTY,
    ActionDef,
    EntityDef,
    PipelineDef,
    SourceRef,
    TriggerDef,
)

EVENT_OPTIONS = frozenset(
    {"fields", "pipeline", "transitions", "from_states", "to_states", "date_field", "offset",
     "cron", "timezone"}
)
"""Trigger keys that are settings of its event; they go to TriggerDef.options."""

DATE_TYPES = frozenset({"date", "datetime"})


def build_trigger(document: Document) -> TriggerDef:
    body = document.body
    options = {key: freeze(value) for key, value in body.items() if key in EVENT_OPTIONS}
    return TriggerDef(
        name=document.name,
        label=labels(body.get("label")),
        entity=str(body["entity"]),
        event=str(body["event"]),
        actions=tuple(
            ActionDef(type=str(raw["type"]), params=freeze(raw.get("params", EMPTY)))
            for raw in body["actions"]
        ),
        condition=body.get("condition"),
        mode=str(body.get("mode", "async")),
        enabled=bool(body.get("enabled", True)),
        options=MappingProxyType(options) if options else EMPTY,
        pack=document.pack,
        source=SourceRef(document.source),
    )


def check_trigger(trigger: TriggerDef, context: CompileContext) -> None:
    report = context.reporter(trigger.source.file)
    entity = context.entity(trigger.entity, report, "/entity")
    if entity is None:
        return
    if trigger.condition is not None:
        context.check_criteria(trigger.condition, entity, report, "/condition")
    options = trigger.options
    for index, name in enumerate(options.get("fields", ())):
        context.check_field(entity, name, report, f"/fields/{index}")
    if trigger.event == "time":
        _check_date_field(entity, str(options["date_field"]), context, report)
    if trigger.event == "transitioned":
        _check_transition_options(trigger, entity, context, report)


def _check_date_field(
    entity: EntityDef, name: str, context: CompileContext, report: Reporter
) -> None:
    if context.check_field(entity, name, report, "/date_field", system=True):
        fdef = entity.field(name)
        if fdef is not None and fdef.type not in DATE_TYPES:
            report.error(f"field '{name}' is a {fdef.type}; a time trigger needs a date or "
                         "datetime field", "/date_field")


def _check_transition_options(
    trigger: TriggerDef, entity: EntityDef, context: CompileContext, report: Reporter
) -> None:
    pipeline = _trigger_pipeline(trigger, entity, context, report)
    if pipeline is None:
        return
    transitions = [t.name for t in pipeline.transitions]
    for index, name in enumerate(trigger.options.get("transitions", ())):
        if name not in transitions:
            report.error(f"unknown transition '{name}' of pipeline '{pipeline.name}'"
                         + suggestion(name, transitions), f"/transitions/{index}")
    for key in ("from_states", "to_states"):
        for index, name in enumerate(trigger.options.get(key, ())):
            if name not in pipeline.state_names:
                report.error(f"unknown state '{name}' of pipeline '{pipeline.name}'"
                             + suggestion(name, pipeline.state_names), f"/{key}/{index}")


def _trigger_pipeline(
    trigger: TriggerDef, entity: EntityDef, context: CompileContext, report: Reporter
) -> PipelineDef | None:
    named = trigger.options.get("pipeline")
    if named is not None:
        pipeline = context.pipeline(named, report, "/pipeline")
        if pipeline is not None and pipeline.entity != entity.name:
            report.error(f"pipeline '{pipeline.name}' belongs to entity '{pipeline.entity}', "
                         f"not '{entity.name}'", "/pipeline")
            return None
        return pipeline
    own = [p for p in context.pipelines.values() if p.entity == entity.name]
    if len(own) == 1:
        return own[0]
    if not own:
        report.missing(f"entity '{entity.name}' has no pipeline, so its records never "
                     "transition", "/event")
    else:
        report.error(f"entity '{entity.name}' has several pipelines; name one in 'pipeline'",
                     "/event")
    return None
