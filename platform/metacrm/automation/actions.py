"""The actions registry: what a trigger can do, as named, registered extension points.

Core actions (set fields, create a record, assign the owner, perform a transition, send an
email, call a webhook) and extension packs' actions register the same way:
`services.automation.actions.register(action)` or, before the automation feature
exists, `ActionRegistry.register`. A trigger names an action by `type`; its `params` are
checked by the action when metadata is planned or applied (`check`), so a bad parameter is a
metadata error pointing at `/actions/<i>/params/...`, never a failure at run time.

An action runs on the connection of the transaction it belongs to (`ActionContext.conn`):
a sync trigger's actions in the change's own transaction, an async trigger's in a
transaction of their own. With `dry_run` an action must change nothing and contact nothing
outside the database (no mail, no HTTP): it describes what it would do. (The dry run also
rolls its transaction back, so database writes made while describing are undone.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail
from metacrm.kernel.jobs import EventRecord
from metacrm.metadata.model import CompiledModel, EntityDef, TriggerDef

if TYPE_CHECKING:
    from metacrm.composition import Services


@dataclass(frozen=True)
class ActionContext:
    """What an action may use while it runs for one trigger on one record."""

    conn: sa.Connection
    services: Services
    subject: AccessSubject
    """Whom the action acts as: the automation subject (admin rights, actor `trigger:<name>`)."""
    trigger: TriggerDef
    entity: str
    record: Mapping[str, Any]
    """The record in JSON form as it is now (after the change that fired the trigger)."""
    previous: Mapping[str, Any] = field(default_factory=dict)
    """The changed fields' values before the change (JSON form); empty for a creation."""
    event: EventRecord | None = None
    now: datetime | None = None
    dry_run: bool = False


class Action(Protocol):
    """One kind of action (`type` in trigger metadata)."""

    @property
    def name(self) -> str: ...

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        """Problems with `params` for a trigger on `entity`; pointers relative to `params`
        (e.g. `/values/amount`). Empty = fine."""
        ...

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """Do it (or, with `context.dry_run`, describe it); return a JSON summary of what
        was (or would be) done, e.g. `{"created": {"entity": "task", "id": ...}}`.
        Raise `metacrm.kernel.errors` exceptions for failures that should be reported."""
        ...


class ActionRegistry:
    """Actions by name."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, action: Action) -> None:
        if action.name in self._actions:
            raise ValueError(f"an action named {action.name!r} is already registered")
        # copy on write: packs (un)register while other threads look actions up
        self._actions = {**self._actions, action.name: action}

    def unregister(self, name: str) -> None:
        """Remove action `name` (its extension pack was unloaded)."""
        self._actions = {key: a for key, a in self._actions.items() if key != name}

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._actions))
