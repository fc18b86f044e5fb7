"""`install(services)`: the notifications feature in a process (web app, worker, scheduler).

Registers the `notifications` consumer (assignment notices, after commit), the `notify`
automation action (the automation feature comes earlier in `FEATURES`),
`services.notifications` (the `NotificationService`) and the
scheduler's periodic tasks `notifications.reminders` (due-date reminders) and
`notifications.digest` (the daily email digest), and the `notifications.reminder_mail`
consumer (reminders by email for those who asked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metacrm.automation.builtin_actions.support import ActionSupport
from metacrm.metadata.model import CompiledModel
from metacrm.notifications.action import NotifyAction
from metacrm.notifications.assignments import AssignmentNotifications
from metacrm.notifications.digest import TASK_NAME as DIGEST_TASK
from metacrm.notifications.digest import DailyDigest
from metacrm.notifications.reminder_mail import ReminderMail
from metacrm.notifications.reminders import TASK_NAME as REMINDERS_TASK
from metacrm.notifications.reminders import DueReminders
from metacrm.notifications.service import NotificationService

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "notifications"


def install(services: Services) -> None:
    services.consumers.register(AssignmentNotifications(services.engine,
                                                        lambda: services.clock()))
    notifications = NotificationService(services.engine, services.records,
                                        lambda: services.clock())
    services.notifications = notifications

    def model() -> CompiledModel:
        return services.records.runtime().model

    services.consumers.register(ReminderMail(
        services.engine, services.records, services.subjects.subject_of, services.subjects.users,
        lambda: services.mail, services.settings.public_url))
    services.periodic[REMINDERS_TASK] = DueReminders(
        services.engine, services.records, model, services.dispatcher.submit,
        services.dispatcher.kick)
    services.periodic[DIGEST_TASK] = DailyDigest(
        services.engine, notifications, services.subjects.subject_of, services.subjects.users,
        lambda: services.mail, model)
    services.automation.actions.register(NotifyAction(ActionSupport(services)))
