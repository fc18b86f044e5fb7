"""`install(services)`: the notifications feature in a process (web app, worker, scheduler).

Registers the `notifications` consumer (assignment notices, after commit), the `notify`
automation action when the automation feature is installed (it comes earlier in
`FEATURES`), and `services.features["notifications"]` (the `NotificationService`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metacrm.automation.builtin_actions.support import ActionSupport
from metacrm.notifications.action import NotifyAction
from metacrm.notifications.assignments import AssignmentNotifications
from metacrm.notifications.service import NotificationService

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "notifications"


def install(services: Services) -> None:
    services.consumers.register(AssignmentNotifications(services.engine,
                                                        lambda: services.clock()))
    services.features[FEATURE] = NotificationService(services.engine, services.records,
                                                     lambda: services.clock())
    automation = services.features.get("automation")
    actions = getattr(automation, "actions", None)
    if actions is not None:
        actions.register(NotifyAction(ActionSupport(services)))
