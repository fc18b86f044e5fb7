"""Trigger actions from packs (`ctx.register_action`).

The action's parameters are described by a JSON Schema: metadata naming the action is
checked against it when it is planned or applied (errors point at `/actions/<i>/params/…`),
and the designer's trigger editor renders a form from it. The handler runs in the trigger's
transaction for sync triggers (BEFORE the commit) and in a work item for async ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ActionCall:
    """One run of the action for one trigger on one record."""

    trigger: str
    entity: str
    record: Mapping[str, Any]
    """The record in JSON form after the change that fired the trigger."""
    params: Mapping[str, Any]
    """Checked against the action's parameter schema."""
    dry_run: bool
    """True: describe what would be done, change nothing, contact nothing."""


ActionHandler = Callable[[ActionCall], Mapping[str, Any]]
"""Returns a JSON summary of what was (or would be) done."""

__all__ = ["ActionCall", "ActionHandler"]
