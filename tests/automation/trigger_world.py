"""A metacrm instance for trigger tests: a small lead/task model, triggers from JSON
literals, and the process's real Services (inline job queue unless told otherwise).

`trigger_world(database_url, root, *triggers)` applies the model plus the triggers and
builds Services with `build_services` — the automation feature, its listener, consumer and
periodic tasks installed exactly as in the web app, worker and scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.automation.service import AutomationService
from metacrm.composition import Services, build_services
from metacrm.storage import automation_runs
from metacrm.storage.automation_runs import RunEntry
from metacrm.storage.system_tables import automation_runs as runs_table
from metacrm.storage.system_tables import outbox, work_items
from web_harness import apply_metadata, role, settings_for

LABEL = {"en": "Label", "ru": "Метка"}


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


def choices(*values: str) -> list[dict[str, Any]]:
    return [{"value": value, "label": LABEL} for value in values]


LEAD = {
    "kind": "entity", "name": "lead", "version": 1, "label": LABEL,
    "fields": [
        field("name", "text", required=True, indexed=True),
        field("rating", "picklist", choices=choices("cold", "warm", "hot")),
        field("status", "picklist", choices=choices("new", "contacted", "qualified")),
        field("counter", "integer"),
        field("note", "text"),
        field("contact_at", "datetime", indexed=True),
        field("follow_up_on", "date"),
        field("stage", "state", pipeline="lead_flow"),
    ],
}
TASK = {
    "kind": "entity", "name": "task", "version": 1, "label": LABEL,
    "fields": [field("subject", "text", required=True),
               field("lead", "reference", entity="lead", on_delete="cascade")],
}
LEAD_FLOW = {
    "kind": "pipeline", "name": "lead_flow", "version": 1, "label": LABEL, "entity": "lead",
    "states": [{"name": "new", "label": LABEL}, {"name": "working", "label": LABEL},
               {"name": "won", "label": LABEL, "category": "won"}],
    "transitions": [{"name": "start", "label": LABEL, "from": ["new"], "to": "working"},
                    {"name": "win", "label": LABEL, "from": ["working"], "to": "won"}],
}
OWN = {"read": "own", "create": "all", "update": "own", "delete": "own"}
MODEL: tuple[dict[str, Any], ...] = (
    LEAD, TASK, LEAD_FLOW, role("boss", admin=True),
    role("clerk", entities={"lead": OWN, "task": OWN}),
)


def trigger(name: str, event: str, *actions: Mapping[str, Any], **options: Any
            ) -> dict[str, Any]:
    """A trigger on leads (`entity` may be overridden in `options`)."""
    return {"kind": "trigger", "name": name, "version": 1, "label": LABEL,
            "entity": "lead", "event": event, "actions": [dict(a) for a in actions],
            **options}


def create_task(subject: str | Mapping[str, Any]) -> dict[str, Any]:
    """The built-in action creating a task linked to the lead (a subject with `{{` is a
    template)."""
    value = {"template": subject} if isinstance(subject, str) and "{{" in subject else subject
    return {"type": "create_record",
            "params": {"entity": "task", "values": {"subject": value}, "link": "lead"}}


def set_fields(**values: Any) -> dict[str, Any]:
    return {"type": "set_fields", "params": {"values": values}}


def step_triggers(count: int, **options: Any) -> list[dict[str, Any]]:
    """A cascade: step1 sets counter 1 on creation; step<n> sets n when counter changes to
    n - 1 (each run fires the next)."""
    steps = [trigger("step1", "created", set_fields(counter=1), **options)]
    steps += [trigger(f"step{n}", "field_changed", set_fields(counter=n), fields=["counter"],
                      to=[n - 1], **options) for n in range(2, count + 1)]
    return steps


BOSS = AccessSubject(user_id="u-boss", username="boss", roles=("boss",), is_admin=True)
CLERK = AccessSubject(user_id="u-clerk", username="clerk", roles=("clerk",))


@dataclass
class TriggerWorld:
    services: Services

    @property
    def engine(self) -> sa.Engine:
        return self.services.engine

    @property
    def automation(self) -> AutomationService:
        return self.services.automation

    def create_lead(self, name: str, *, who: AccessSubject = BOSS, **values: Any
                    ) -> dict[str, Any]:
        return self.services.records.create(who, "lead", {"name": name, **values})

    def update_lead(self, record_id: str, *, who: AccessSubject = BOSS, **changes: Any
                    ) -> dict[str, Any]:
        return self.services.records.update(who, "lead", record_id, changes)

    def lead(self, record_id: str) -> dict[str, Any]:
        return self.services.records.get(BOSS, "lead", record_id)

    def tasks(self, lead_id: str | None = None) -> list[dict[str, Any]]:
        criteria = None if lead_id is None else {"field": "lead", "op": "eq",
                                                  "value": lead_id}
        page = self.services.records.list(BOSS, "task", criteria=criteria, limit=500)
        return page.records

    def runs(self, trigger_name: str | None = None) -> list[RunEntry]:
        """The runs log, oldest first."""
        with self.engine.connect() as conn:
            found = automation_runs.list_runs(conn, trigger=trigger_name, limit=10_000)
        return list(reversed(found))

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def outbox_count(self) -> int:
        return self.count(outbox)

    def work_item_count(self) -> int:
        return self.count(work_items)

    def run_count(self) -> int:
        return self.count(runs_table)


@contextmanager
def trigger_world(database_url: str, root: Path, *triggers: Mapping[str, Any],
                  model: tuple[Mapping[str, Any], ...] = MODEL,
                  **settings_changes: Any) -> Iterator[TriggerWorld]:
    """Apply the model and `triggers`, build the process's Services, yield the world."""
    apply_metadata(database_url, [*model, *triggers])
    settings = replace(settings_for(database_url, root), **settings_changes)
    services = build_services(settings)
    try:
        yield TriggerWorld(services)
    finally:
        services.close()
