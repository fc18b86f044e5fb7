"""`install(services)`: the webhooks feature in a process (web app, worker or scheduler).

Registers the `webhook` consumer, the `webhooks.retention` periodic task (deletes delivery
log rows older than 30 days), `services.webhooks` (the `WebhookService`) and the
`call_webhook` action of the automation feature (installed earlier in `FEATURES`). The SSRF
guard follows `settings.webhook_allow_private`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from metacrm.webhooks import attempts
from metacrm.webhooks.action import CallWebhookAction
from metacrm.webhooks.addresses import AddressGuard
from metacrm.webhooks.consumer import WebhookConsumer
from metacrm.webhooks.matching import SubscriptionCache
from metacrm.webhooks.sender import WebhookSender
from metacrm.webhooks.service import WebhookService

if TYPE_CHECKING:
    from metacrm.composition import Services

RETENTION_TASK = "webhooks.retention"

_log = logging.getLogger(__name__)


def install(services: Services) -> None:
    guard = AddressGuard(allow_private=services.settings.webhook_allow_private)
    sender = WebhookSender(guard)
    cache = SubscriptionCache(services.engine)
    services.consumers.register(WebhookConsumer(services, sender, cache))
    services.periodic[RETENTION_TASK] = Retention(services)
    services.webhooks = WebhookService(services, guard, cache)
    services.automation.actions.register(CallWebhookAction(sender))


class Retention:
    """The `webhooks.retention` periodic task: deletes delivery log rows older than the
    retention period (30 days). The scheduler ticks every second or so; the delete runs at
    most once per `EVERY` of the times it is given."""

    EVERY = timedelta(hours=1)

    def __init__(self, services: Services) -> None:
        self.services = services
        self._last: datetime | None = None

    def __call__(self, now: datetime) -> None:
        if self._last is not None and abs(now - self._last) < self.EVERY:
            return
        self._last = now
        delete_old_attempts(self.services, now)


def delete_old_attempts(services: Services, now: datetime) -> int:
    """Delete delivery log rows older than the retention period (30 days)."""
    with services.engine.begin() as conn:
        deleted = attempts.delete_older_than(conn, now - attempts.RETENTION)
    if deleted:
        _log.info("deleted %d webhook delivery attempt(s) older than %s", deleted,
                  attempts.RETENTION)
    return deleted
