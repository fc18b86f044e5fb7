"""The core actions of triggers: set fields, create a record, assign the owner, perform a
transition, send an email, copy child records (`copy_related`).

Each is a class implementing `metacrm.automation.actions.Action`; `register_builtin_actions`
registers them all on an `ActionRegistry` (the automation feature's install calls it). They
share one `ActionSupport`, so templates and formulas are compiled once per process and
metadata version. Param formats are documented in each module and in docs/metadata.md
("Actions").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metacrm.automation.actions import Action, ActionRegistry
from metacrm.automation.builtin_actions.assign_owner import AssignOwner
from metacrm.automation.builtin_actions.copy_related import CopyRelated
from metacrm.automation.builtin_actions.create_record import CreateRecord
from metacrm.automation.builtin_actions.send_email import SendEmail
from metacrm.automation.builtin_actions.set_fields import SetFields
from metacrm.automation.builtin_actions.support import ActionSupport
from metacrm.automation.builtin_actions.transition import Transition

if TYPE_CHECKING:
    from metacrm.composition import Services


def builtin_actions(services: Services) -> list[Action]:
    """One instance of each core action, sharing templates and formulas."""
    support = ActionSupport(services)
    return [SetFields(support), CreateRecord(support), AssignOwner(support),
            Transition(support), SendEmail(support), CopyRelated(support)]


def register_builtin_actions(registry: ActionRegistry, services: Services) -> None:
    """Register the core actions on `registry`."""
    for action in builtin_actions(services):
        registry.register(action)


__all__ = ["builtin_actions", "register_builtin_actions"]
