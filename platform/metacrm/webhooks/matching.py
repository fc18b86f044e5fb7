"""Which subscriptions an event concerns, and what their owners may be told of it.

A subscription covers an event when it is enabled, lists the event type (or `*`), names the
event's entity (or none), its owner is an active user who may read the record (their row
scope, on the record as the event carries it), something they may see changed (a change of
hidden fields alone is not announced) and the record matches its filter (criteria
over the fields the owner may see, `$user` being the owner). The same judgement is made
when targets are named (no work item for an event nobody may hear) and again right before
each delivery (the subscription or the owner's rights may have changed since).

Enabled subscriptions are cached for `CACHE_SECONDS` per process (every event asks); a
change made through this process's `WebhookService` invalidates the cache at once, other
processes see it within the TTL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.event_records import change_hidden_from, python_record
from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.criteria.predicate import compile_predicate
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.jobs import EventRecord
from metacrm.webhooks import subscriptions
from metacrm.webhooks.payload import owner_view
from metacrm.webhooks.subscriptions import Subscription

CACHE_SECONDS = 5.0

_log = logging.getLogger(__name__)


class Subjects(Protocol):
    """Access subjects of users by id (`metacrm.identity.subjects.SubjectDirectory`)."""

    def subject_of(self, user_id: str) -> AccessSubject | None: ...


class SubscriptionCache:
    """The enabled subscriptions, re-read at most every `ttl` seconds (or when invalidated)."""

    def __init__(self, engine: sa.Engine, ttl: float = CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._enabled: tuple[Subscription, ...] = ()

    def enabled(self) -> tuple[Subscription, ...]:
        with self._lock:
            now = self._monotonic()
            if self._loaded_at is not None and now - self._loaded_at < self.ttl:
                return self._enabled
        with self.engine.connect() as conn:
            loaded = tuple(subscriptions.enabled(conn))
        with self._lock:
            self._enabled, self._loaded_at = loaded, now
        return loaded

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """A subscription's judgement of one event: the body for its owner, or why not."""

    body: dict[str, Any] | None
    reason: str = ""


def coverage(
    subscription: Subscription, event: EventRecord, policy: AccessPolicy,
    subjects: Subjects, *, now: datetime,
) -> Coverage:
    """Whether `subscription` (as it is now) covers `event`, and the body its owner gets."""
    if not subscription.enabled:
        return Coverage(None, "the subscription is disabled")
    if not subscription.listens_to(event.type, event.entity):
        return Coverage(None, "the subscription no longer listens to this event")
    owner = subjects.subject_of(subscription.owner)
    if owner is None:
        return Coverage(None, "the subscription's owner is no longer an active user")
    body = owner_view(event, policy, owner, now=now)
    if body is None:
        return Coverage(None, "the subscription's owner may not read the record")
    if change_hidden_from(policy, owner, event.entity, event.payload):
        return Coverage(None, "only fields hidden from the subscription's owner changed")
    if subscription.filter is not None and not _matches(subscription, event, policy, owner,
                                                        now):
        return Coverage(None, "the record does not match the subscription's filter")
    return Coverage(body)


def _matches(
    subscription: Subscription, event: EventRecord, policy: AccessPolicy,
    owner: AccessSubject, now: datetime,
) -> bool:
    """The filter on the record as its owner sees it; a filter that no longer fits the
    entity (a field removed or hidden from the owner since) matches nothing."""
    try:
        entity = policy.visible_entity(owner, event.entity)
        predicate = compile_predicate(subscription.filter, entity, policy.registry,
                                      owner.criteria_context(now))
    except MetacrmError as exc:
        _log.warning("webhook %s: its filter no longer fits %r: %s", subscription.id,
                     event.entity, exc)
        return False
    values = python_record(entity, policy.registry, event.payload.get("record") or {})
    return values is not None and predicate(values)
