"""A small CRM built with `build_services`, and a way to run one built-in action on a record
inside a real write transaction, as the automation engine does.

Leads move through `lead_flow` (new, working: open; won; lost); tasks may refer to a lead.
Actions act as the automation subject of trigger `test_trigger` (admin roles).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.automation.actions import ActionContext, ActionRegistry
from metacrm.automation.builtin_actions import register_builtin_actions
from metacrm.automation.subject import automation_subject
from metacrm.composition import Services, build_services
from metacrm.fieldtypes import default_registry
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.model import CompiledModel, TriggerDef
from web_harness import settings_for

LABEL = {"en": "Label", "ru": "Метка"}
TRIGGER = "test_trigger"


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


def entity(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": LABEL,
            "plural_label": LABEL, "fields": list(fields)}


def state(name: str, category: str = "open") -> dict[str, Any]:
    return {"name": name, "label": LABEL, "category": category}


def move(name: str, origin: list[str], to: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": LABEL, "from": origin, "to": to, **extra}


DOCUMENTS: list[dict[str, Any]] = [
    entity(
        "lead",
        field("first_name", "text"),
        field("last_name", "text", required=True),
        field("email", "email"),
        field("amount", "money", currency="USD"),
        field("commission", "money", currency="USD"),
        field("score", "integer"),
        field("rate", "decimal"),
        field("note", "text"),
        field("follow_up", "date"),
        field("number", "auto_number", prefix="L-"),
        field("status", "state", pipeline="lead_flow"),
    ),
    {"kind": "pipeline", "name": "lead_flow", "version": 1, "label": LABEL, "entity": "lead",
     "initial_state": "new",
     "states": [state("new"), state("working"), state("won", "won"), state("lost", "lost")],
     "transitions": [move("start", ["new"], "working"),
                     move("win", ["working"], "won", required_fields=["amount"]),
                     move("lose", ["new", "working"], "lost")]},
    entity(
        "task",
        field("subject", "text", required=True),
        field("due_date", "date"),
        field("due_at", "datetime"),
        field("status", "picklist", default="open",
              choices=[{"value": "open", "label": LABEL}, {"value": "done", "label": LABEL}]),
        field("lead", "reference", entity="lead", on_delete="set_null"),
        field("related_entity", "text"),
        field("related_id", "text"),
    ),
    {"kind": "role", "name": "admin", "version": 1, "label": LABEL, "admin": True},
]


def apply_documents(services: Services, bodies: list[dict[str, Any]] = DOCUMENTS) -> None:
    services.metadata.apply(
        [Document.from_body(body, source=f"{body['name']}.json", pack="test") for body in bodies],
        author="test")


class ActionsWorld:
    """The built-in actions over `services`, and shortcuts to make and read records."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.actions = ActionRegistry()
        register_builtin_actions(self.actions, services)

    @property
    def model(self) -> Any:
        return self.services.records.runtime().model

    @property
    def subject(self) -> AccessSubject:
        return automation_subject(self.model, TRIGGER)

    def lead(self, **values: Any) -> dict[str, Any]:
        return self.services.records.create(self.subject, "lead", {"last_name": "Lee", **values})

    def get(self, entity_name: str, record_id: str) -> dict[str, Any]:
        return self.services.records.get(self.subject, entity_name, record_id)

    def records(self, entity_name: str) -> list[dict[str, Any]]:
        return self.services.records.list(self.subject, entity_name, limit=500).records

    def check(self, name: str, params: Any, entity_name: str = "lead") -> list[ErrorDetail]:
        action = self.actions.get(name)
        assert action is not None, name
        return action.check(params, self.model.entities[entity_name], self.model)

    def run(
        self, name: str, params: Mapping[str, Any], record: Mapping[str, Any], *,
        entity_name: str = "lead", dry_run: bool = False, now: datetime | None = None,
        previous: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Check `params` (they must be fine), then run the action in one transaction."""
        assert self.check(name, params, entity_name) == []
        action = self.actions.get(name)
        assert action is not None
        trigger = TriggerDef(name=TRIGGER, label={"en": "Test trigger"}, entity=entity_name,
                             event="created", actions=())
        with self.services.records.transaction() as conn:
            context = ActionContext(
                conn=conn, services=self.services, subject=self.subject, trigger=trigger,
                entity=entity_name, record=record, previous=previous or {}, now=now,
                dry_run=dry_run)
            return action.run(context, params)


@contextmanager
def open_world(database_url: str, root: Path, **settings: Any) -> Iterator[ActionsWorld]:
    """Services on an empty database with `DOCUMENTS` applied."""
    services = build_services(settings_for(database_url, root, **settings))
    try:
        apply_documents(services)
        yield ActionsWorld(services)
    finally:
        services.close()


def compiled_model() -> CompiledModel:
    """`DOCUMENTS` compiled, for tests that need the model but no database."""
    documents = [Document.from_body(body, source=f"{body['name']}.json", pack="test")
                 for body in DOCUMENTS]
    return compile_model(documents, default_registry())
