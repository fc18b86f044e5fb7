"""Compile `sla_policy` documents: targets, pause states, milestones on a business calendar.

Checked here, against the rest of the model: the calendar exists, the policy's entity
(`ticket`) exists with the fields a policy reads (priority, customer_tier when a target
names a tier), pause states are states of the ticket's pipeline, a target's priority is a
value of the priority picklist, `applies_when` is a valid criteria tree over tickets, no
two targets cover the same metric, priority and tier, and a reassignment names a queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from metacrm.metadata.compiler.context import CompileContext, suggestion
from metacrm.metadata.compiler.freeze import labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import (
    BusinessCalendarDef,
    SlaActionDef,
    SlaEscalationDef,
    SlaMilestoneDef,
    SlaPolicyDef,
    SlaTargetDef,
    SourceRef,
)

TICKET = "ticket"
"""The entity SLA policies time."""


def _actions(raw: Any) -> tuple[SlaActionDef, ...]:
    return tuple(SlaActionDef(type=str(item["type"]), to=names(item.get("to")),
                              queue=item.get("queue"))
                 for item in raw or ())


def _milestone(raw: Mapping[str, Any]) -> SlaMilestoneDef:
    warn = raw.get("warn_before_minutes")
    return SlaMilestoneDef(
        warn_before_minutes=int(warn) if warn is not None else None,
        on_warning=_actions(raw.get("on_warning")), on_breach=_actions(raw.get("on_breach")),
        escalation=tuple(SlaEscalationDef(int(level["after_minutes"]),
                                          _actions(level["actions"]))
                         for level in raw.get("escalation") or ()))


def build_sla_policy(document: Document) -> SlaPolicyDef:
    body = document.body
    return SlaPolicyDef(
        name=document.name, label=labels(body.get("label")), calendar=str(body["calendar"]),
        targets=tuple(SlaTargetDef(metric=str(raw["metric"]), minutes=int(raw["minutes"]),
                                   priority=raw.get("priority"), tier=raw.get("tier"))
                      for raw in body["targets"]),
        pause_states=names(body.get("pause_states")),
        milestones=MappingProxyType({metric: _milestone(raw) for metric, raw
                                     in (body.get("milestones") or {}).items()}),
        applies_when=body.get("applies_when"), rank=int(body.get("rank", 100)),
        description=labels(body.get("description")), pack=document.pack,
        source=SourceRef(document.source))


def check_sla_policy(policy: SlaPolicyDef, calendars: Mapping[str, BusinessCalendarDef],
                     context: CompileContext) -> None:
    report = context.reporter(policy.source.file)
    if policy.calendar not in calendars:
        report.missing(f"unknown business_calendar '{policy.calendar}'"
                       + suggestion(policy.calendar, calendars), "/calendar")
    entity = context.entity(TICKET, report, "")
    if entity is None:
        return
    pipeline = next((p for p in context.pipelines.values() if p.entity == TICKET), None)
    for index, state in enumerate(policy.pause_states):
        if pipeline is None or state not in pipeline.state_names:
            known = pipeline.state_names if pipeline else ()
            report.error(f"'{state}' is not a state of the ticket pipeline"
                         + suggestion(state, known), f"/pause_states/{index}")
    priority = entity.field("priority")
    choices = {str(c.value) for c in priority.choices} if priority is not None else set()
    seen: set[tuple[str, str | None, str | None]] = set()
    for index, target in enumerate(policy.targets):
        key = (target.metric, target.priority, target.tier)
        if key in seen:
            report.error("another target covers the same metric, priority and tier",
                         f"/targets/{index}")
        seen.add(key)
        if target.priority is not None and target.priority not in choices:
            report.error(f"'{target.priority}' is not a ticket priority"
                         + suggestion(target.priority, choices), f"/targets/{index}/priority")
        if target.tier is not None and not entity.has_field("customer_tier"):
            report.error("tickets have no customer_tier field", f"/targets/{index}/tier")
    if policy.applies_when is not None:
        context.check_criteria(policy.applies_when, entity, report, "/applies_when")
    for metric, milestone in policy.milestones.items():
        pointer = f"/milestones/{metric}"
        groups = [("on_warning", milestone.on_warning), ("on_breach", milestone.on_breach)]
        groups += [(f"escalation/{i}/actions", level.actions)
                   for i, level in enumerate(milestone.escalation)]
        for name, actions in groups:
            for index, action in enumerate(actions):
                if action.type == "reassign" and not action.queue:
                    report.error("reassign needs a queue", f"{pointer}/{name}/{index}")
                if action.type == "notify" and not action.to:
                    report.error("notify needs whom to tell (to)", f"{pointer}/{name}/{index}")
