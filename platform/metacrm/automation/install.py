"""`install(services)`: wire the automation feature into a process.

* the actions registry, with the built-in actions (`builtin_actions`); extension packs
  register theirs on `services.automation.actions`;
* the check of trigger actions when metadata is planned or applied;
* sync triggers: a listener of every write transaction;
* async triggers: the `trigger` consumer of the job queue;
* time and cron triggers: the scheduler's periodic tasks `automation.time` and
  `automation.cron`; `automation.retention` keeps the runs log 30 days;
* `services.automation`: the `AutomationService` (runs log, dry run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metacrm.automation.actions import ActionRegistry
from metacrm.automation.builtin_actions import register_builtin_actions
from metacrm.automation.consumer import TriggerConsumer
from metacrm.automation.retention import AutomationRetention
from metacrm.automation.schedule import CronTriggers, TimeTriggers
from metacrm.automation.service import AutomationService
from metacrm.automation.sync_listener import SyncTriggers
from metacrm.automation.validation import action_checker

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "automation"
TIME_TASK = "automation.time"
CRON_TASK = "automation.cron"
RETENTION_TASK = "automation.retention"


def install(services: Services) -> AutomationService:
    actions = ActionRegistry()
    register_builtin_actions(actions, services)
    automation = AutomationService(services, actions)
    services.metadata.add_validator(action_checker(actions))
    services.records.listeners.append(SyncTriggers(automation))
    services.consumers.register(TriggerConsumer(automation))
    services.periodic[TIME_TASK] = TimeTriggers(automation, services.dispatcher)
    services.periodic[CRON_TASK] = CronTriggers(automation, services.dispatcher)
    services.periodic[RETENTION_TASK] = AutomationRetention(services.engine)
    services.automation = automation
    return automation
