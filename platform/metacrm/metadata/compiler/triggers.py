"""Compile trigger documents: the event and its options, the condition, the actions.

Action parameters are not checked here: actions live in a registry above the metadata layer
(`metacrm.automation`), which checks them when metadata is planned or applied
(`MetadataService.add_validator`). What the compiler checks is what the model alone decides:
fields, states and transitions exist, `from`/`to` values fit the watched field, time and
scheduled triggers are async, the cron expression and its time zone are valid.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

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
     "cron", "timezone", "from", "to"}
)
"""Trigger keys that are settings of its event; they go to TriggerDef.options."""

DATE_TYPES = frozenset({"date", "datetime"})
DATE_SYSTEM_COLUMNS = ("created_at", "updated_at")
"""System columns a time trigger may count from (`updated_at`: "no change for N days")."""
ASYNC_ONLY_EVENTS = frozenset({"time", "scheduled"})
"""Events with no change (and so no transaction) to run inside: always async."""


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
        condition_before=body.get("condition_before"),
    )


def check_trigger(trigger: TriggerDef, context: CompileContext) -> None:
    report = context.reporter(trigger.source.file)
    entity = context.entity(trigger.entity, report, "/entity")
    if entity is None:
        return
    if trigger.condition is not None:
        context.check_criteria(trigger.condition, entity, report, "/condition")
    if trigger.condition_before is not None:
        context.check_criteria(trigger.condition_before, entity, report, "/condition_before")
    options = trigger.options
    for index, name in enumerate(options.get("fields", ())):
        context.check_field(entity, name, report, f"/fields/{index}")
    if trigger.event in ASYNC_ONLY_EVENTS and trigger.mode == "sync":
        report.error(f"a {trigger.event} trigger runs when no change is being made, so it "
                     "cannot be sync; use \"mode\": \"async\"", "/mode")
    if trigger.event == "field_changed":
        _check_from_to(trigger, entity, context, report)
    if trigger.event == "time":
        _check_date_field(entity, str(options["date_field"]), context, report)
    if trigger.event == "scheduled":
        _check_schedule(trigger, report)
    if trigger.event == "transitioned":
        _check_transition_options(trigger, entity, context, report)


def _check_from_to(
    trigger: TriggerDef, entity: EntityDef, context: CompileContext, report: Reporter
) -> None:
    """`from`/`to` values must be values of the one watched field."""
    keys = [key for key in ("from", "to") if key in trigger.options]
    if not keys:
        return
    fields = trigger.options.get("fields", ())
    if len(fields) != 1:
        for key in keys:
            report.error(f"'{key}' needs exactly one watched field in 'fields' "
                         f"(there are {len(fields)})", f"/{key}")
        return
    fdef = entity.field(fields[0])
    if fdef is None:
        return  # reported by the fields check
    for key in keys:
        for index, value in enumerate(trigger.options[key]):
            if value is None:
                continue
            try:
                context.catalog.coerce(fdef, _thawed(value))
            except ValueError as exc:
                report.error(f"{value!r} is not a value of field '{fdef.name}': {exc}",
                             f"/{key}/{index}")


def _thawed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_schedule(trigger: TriggerDef, report: Reporter) -> None:
    problem = cron_problem(str(trigger.options.get("cron", "")))
    if problem is not None:
        report.error(problem, "/cron")
    zone = trigger.options.get("timezone")
    if zone is not None and not _known_zone(str(zone)):
        report.error(f"unknown time zone '{zone}' (an IANA name such as 'Europe/Berlin')",
                     "/timezone")


def cron_problem(expression: str) -> str | None:
    """What is wrong with a five-field cron expression (None: nothing); shared by cron
    triggers and report snapshots."""
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        return (f"'{expression}' is not a valid five-field cron expression "
                "(minute hour day-of-month month day-of-week)")
    if not _ever_matches(expression):
        return f"cron expression '{expression}' never matches a date"
    return None


def _ever_matches(expression: str) -> bool:
    """False for valid-looking expressions no date fits (`0 9 30 2 *`: 30 February)."""
    try:
        croniter(expression, _CRON_PROBE_START).get_next(datetime)
    except ValueError:  # CroniterBadDateError
        return False
    return True


_CRON_PROBE_START = datetime(2000, 1, 1, tzinfo=UTC)


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _check_date_field(
    entity: EntityDef, name: str, context: CompileContext, report: Reporter
) -> None:
    if context.check_field(entity, name, report, "/date_field", system=True):
        fdef = entity.field(name)
        if fdef is None and name not in DATE_SYSTEM_COLUMNS:
            report.error(f"'{name}' is not a date; a time trigger counts from a date or "
                         f"datetime field, or from {' or '.join(DATE_SYSTEM_COLUMNS)}",
                         "/date_field")
        elif fdef is not None and fdef.type not in DATE_TYPES:
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
