"""The `webhook` consumer: one work item per (subscription, event), one signed POST per attempt.

* `targets(event)`: the ids of the subscriptions that cover the event (`matching`).
* `handle(item)`: re-reads the subscription (deleted or disabled: GiveUp; it no longer
  covers the event: GiveUp), builds the owner's body in the payload format the subscription
  pins (`formats`; a deprecated one adds its `Deprecation`/`Sunset`/`Link` headers), signs
  it (`webhook-id` = the event id, the same on every retry; both secrets during a
  rotation), POSTs it through the SSRF guard and logs the attempt. 2xx: done, and the
  subscription is no longer failing. Anything else: RetryLater — and when the subscription
  has been failing for `DISABLE_AFTER` (3 days) it is disabled, its owner is emailed and
  the item gives up.
* `retry_delay(item)`: `settings.webhook_retry_first_seconds` after the first failure, then
  a wait drawn uniformly between that and a ceiling that doubles each time (full jitter),
  capped at 6 h; retries go on until `RETRY_FOR` (72 h) after the first attempt.

Times (rotation grace, failing since, retries) come from the Services clock, so tests can
move time; the `webhook-timestamp` header is the real time of sending, because receivers
check it against their own clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord, GiveUp, RetryLater, WorkItem
from metacrm.webhooks import attempts, subscriptions
from metacrm.webhooks.formats import payload_format
from metacrm.webhooks.matching import SubscriptionCache, coverage
from metacrm.webhooks.notify import notify_disabled
from metacrm.webhooks.payload import encode
from metacrm.webhooks.sender import PostResult, WebhookSender
from metacrm.webhooks.signing import signature_headers
from metacrm.webhooks.subscriptions import Subscription

if TYPE_CHECKING:
    from metacrm.composition import Services

CONSUMER_NAME = "webhook"
MAX_DELAY = timedelta(hours=6)
RETRY_FOR = timedelta(hours=72)
DISABLE_AFTER = timedelta(days=3)


class WebhookConsumer:
    """Delivers record events to webhook subscriptions (registered as `webhook`)."""

    name = CONSUMER_NAME

    def __init__(
        self, services: Services, sender: WebhookSender, cache: SubscriptionCache, *,
        wall_clock: Clock = utc_now,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.services = services
        self.sender = sender
        self.cache = cache
        self._wall_clock = wall_clock
        self._jitter = jitter

    # --- Consumer -----------------------------------------------------------------------------

    def targets(self, event: EventRecord) -> Sequence[str]:
        candidates = [s for s in self.cache.enabled() if s.listens_to(event.type, event.entity)]
        if not candidates:
            return ()
        policy = self.services.records.runtime().policy
        now = self.services.clock()
        return [s.id for s in candidates
                if coverage(s, event, policy, self.services.subjects, now=now).body is not None]

    def handle(self, item: WorkItem) -> None:
        # one metadata version for the whole attempt: the owner's subject and the access
        # policy then cost one version check, not one each
        with self.services.metadata.pinned():
            self._deliver(item)

    def _deliver(self, item: WorkItem) -> None:
        engine = self.services.engine
        with engine.connect() as conn:
            subscription = subscriptions.get(conn, item.target)
        if subscription is None:
            raise GiveUp("the webhook subscription was deleted")
        now = self.services.clock()
        policy = self.services.records.runtime().policy
        judged = coverage(subscription, item.event, policy, self.services.subjects, now=now)
        if judged.body is None:
            raise GiveUp(judged.reason)
        payload = payload_format(subscription.payload_version)
        if payload is None:
            raise GiveUp(f"payload format version {subscription.payload_version} is no "
                         "longer served")
        text = encode(payload.build(judged.body, item.event, policy.entity(item.event.entity)))
        headers = {**signature_headers(subscription.signing_secrets(now), item.event.id,
                                       self._wall_clock(), text),
                   **payload.delivery_headers()}
        result = self.sender.post(subscription.url, text.encode("utf-8"), headers)
        self._record(subscription, item, now, result)

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        now = self.services.clock()
        started = item.first_attempt_at or now
        if now - started >= RETRY_FOR:
            return None
        first = self.services.settings.webhook_retry_first_seconds
        ceiling = min(MAX_DELAY.total_seconds(), first * 2.0 ** min(item.attempt - 1, 40))
        return timedelta(seconds=self._jitter(first, max(first, ceiling)))

    # --- outcome ------------------------------------------------------------------------------

    def _record(
        self, subscription: Subscription, item: WorkItem, now: datetime, result: PostResult
    ) -> None:
        disabled: str | None = None
        reason = result.describe()
        with self.services.engine.begin() as conn:
            attempts.record(conn, attempts.Attempt(
                id=new_id(), webhook_id=subscription.id, work_item_id=item.id,
                event_id=item.event.id, event_type=item.event.type, attempt=item.attempt,
                at=now, status_code=result.status_code, latency_ms=result.latency_ms,
                response_excerpt=result.excerpt, error=result.error,
            ))
            if result.delivered:
                subscriptions.mark_delivered(conn, subscription.id)
                return
            since = subscriptions.mark_failing(conn, subscription.id, now)
            if now - since >= DISABLE_AFTER:
                why = f"deliveries have failed since {since.isoformat()} (last: {reason})"
                if subscriptions.disable(conn, subscription.id, why, now):
                    disabled = why
        if disabled is None:
            raise RetryLater(reason)
        self.cache.invalidate()
        notify_disabled(self.services.engine, self.services.subjects.users,
                        getattr(self.services, "mail", None), subscription, disabled)
        raise GiveUp(f"{reason}; the subscription was disabled after failing for "
                     f"{DISABLE_AFTER.days} days")
