"""Run one trigger's actions, in order, on one record, on the caller's connection.

Each action gets an `ActionContext` (the connection, the automation subject, the record as
it is now — reloaded after each action, so the next one sees what the previous one did —
the previous values, the event, the clock and the dry-run flag) and its `params` as plain
JSON (dicts and lists, not the compiled model's frozen mappings and tuples). The first
failing action stops the run with `ActionFailed`, saying which action failed and why; a
dry run instead reports each action's error and goes on, so one test shows every problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from metacrm.automation.actions import ActionContext, ActionRegistry
from metacrm.automation.subject import automation_subject
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.kernel.jobs import EventRecord
from metacrm.metadata.model import TriggerDef

if TYPE_CHECKING:
    from metacrm.composition import Services


def thaw(value: Any) -> Any:
    """The compiled model's frozen JSON (read-only mappings, tuples) as plain JSON."""
    if isinstance(value, Mapping):
        return {str(key): thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value


def json_safe(value: Any) -> Any:
    """`value` as JSON the runs log can store (anything else as its text)."""
    return json.loads(json.dumps(value, default=str))


def error_text(exc: BaseException) -> str:
    """A failure as one line for people: the message and its details."""
    if isinstance(exc, MetacrmError):
        details = "; ".join(str(detail) for detail in exc.errors)
        return f"{exc.message} ({details})" if details else exc.message
    return f"{type(exc).__name__}: {exc}"


class ActionFailed(Exception):
    """Action `index` (of type `type`) of a trigger failed with `cause`."""

    def __init__(self, index: int, action_type: str, cause: BaseException) -> None:
        self.index = index
        self.type = action_type
        self.cause = cause
        super().__init__(f"action {index} ({action_type}): {error_text(cause)}")


@dataclass(frozen=True)
class RunTarget:
    """The record a run works on and why (values in JSON form)."""

    entity: str
    record_id: str
    record: Mapping[str, Any]
    previous: Mapping[str, Any]
    event: EventRecord | None


class ActionRunner:
    """Runs triggers' actions with the services of this process."""

    def __init__(self, services: Services, actions: ActionRegistry) -> None:
        self.services = services
        self.actions = actions

    def run(
        self, conn: sa.Connection, trigger: TriggerDef, target: RunTarget, *,
        now: datetime, dry_run: bool = False,
    ) -> list[dict[str, Any]]:
        """`[{"type", "result"}, ...]` per action (a dry run: `"error"` for failures)."""
        runtime = self.services.records.runtime()
        subject = automation_subject(runtime.model, trigger.name)
        record = dict(target.record)
        results: list[dict[str, Any]] = []
        for index, definition in enumerate(trigger.actions):
            context = ActionContext(
                conn=conn, services=self.services, subject=subject, trigger=trigger,
                entity=target.entity, record=record, previous=dict(target.previous),
                event=target.event, now=now, dry_run=dry_run,
            )
            try:
                action = self.actions.get(definition.type)
                if action is None:
                    raise ValidationFailed(
                        f"unknown action type {definition.type!r}",
                        [ErrorDetail("registered: " + (", ".join(self.actions.names())
                                                        or "none"), f"/actions/{index}/type")])
                result = action.run(context, thaw(definition.params))
            except Exception as exc:
                if not dry_run:
                    raise ActionFailed(index, definition.type, exc) from exc
                results.append({"type": definition.type, "error": error_text(exc)})
                continue
            results.append({"type": definition.type, "result": json_safe(result)})
            record = self._reloaded(conn, target, record)
        return results

    def _reloaded(
        self, conn: sa.Connection, target: RunTarget, record: dict[str, Any]
    ) -> dict[str, Any]:
        runtime = self.services.records.runtime()
        current = runtime.system.get(conn, target.entity, target.record_id)
        return record if current is None else runtime.json.record(target.entity, current)
