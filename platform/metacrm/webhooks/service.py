"""The webhooks service: what the API calls to manage subscriptions and read their log.

Any authenticated user manages their own subscriptions; admin roles see and manage every
one. Another user's subscription answers 404, exactly like one that does not exist. The
secret is shown twice only: in the answer that created it and in the answer of a rotation.
A rotation keeps the previous secret valid for `ROTATION_GRACE` (24 h): deliveries carry
both signatures meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.deprecation import Deprecation
from metacrm.kernel.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    NotFound,
    StaleRecord,
    ValidationFailed,
)
from metacrm.kernel.ids import new_id
from metacrm.storage import work_item_store
from metacrm.webhooks import attempts, subscriptions
from metacrm.webhooks.addresses import AddressGuard
from metacrm.webhooks.consumer import CONSUMER_NAME
from metacrm.webhooks.formats import NEWEST_VERSION, offered_versions, payload_format
from metacrm.webhooks.matching import SubscriptionCache
from metacrm.webhooks.requests import CREATE_KEYS, UPDATE_KEYS, SubscriptionInput
from metacrm.webhooks.signing import new_secret
from metacrm.webhooks.subscriptions import ALL_EVENTS, Subscription

if TYPE_CHECKING:
    from metacrm.composition import Services

ROTATION_GRACE = timedelta(hours=24)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None


def subscription_json(subscription: Subscription, *, secret: bool = False) -> dict[str, Any]:
    """A subscription as the API shows it (the secret only when `secret`);
    `payload_deprecation` tells when the payload version it pins is deprecated."""
    expires = subscription.previous_secret_expires_at
    deprecation = payload_deprecation(subscription)
    document: dict[str, Any] = {
        "id": subscription.id,
        "owner": subscription.owner,
        "url": subscription.url,
        "events": list(subscription.events),
        "entity": subscription.entity,
        "filter": subscription.filter,
        "enabled": subscription.enabled,
        "disabled_reason": subscription.disabled_reason,
        "failing_since": None if subscription.failing_since is None
        else datetime_to_json(subscription.failing_since),
        "previous_secret_expires_at": None if expires is None else datetime_to_json(expires),
        "created_at": datetime_to_json(subscription.created_at),
        "updated_at": datetime_to_json(subscription.updated_at),
        "version": subscription.version,
        "payload_version": subscription.payload_version,
        "payload_deprecation": None if deprecation is None else deprecation.to_json(),
    }
    if secret:
        document["secret"] = subscription.secret
    return document


def payload_deprecation(subscription: Subscription) -> Deprecation | None:
    """The deprecation of the payload format version `subscription` receives, if any."""
    found = payload_format(subscription.payload_version)
    return None if found is None else found.deprecation


class WebhookService:
    """Create, list, change, rotate, delete subscriptions; read and replay deliveries."""

    def __init__(self, services: Services, guard: AddressGuard, cache: SubscriptionCache
                 ) -> None:
        self.services = services
        self.guard = guard
        self.cache = cache

    # --- subscriptions ------------------------------------------------------------------------

    def create(self, subject: AccessSubject, body: Any) -> dict[str, Any]:
        """A new subscription owned by `subject`; the answer shows its secret."""
        owner = self._owner(subject)
        checks = SubscriptionInput(self.guard, self._policy(), subject)
        values = checks.body(body, CREATE_KEYS)
        if "url" not in values:
            checks.error("is required", "/url")
        url = checks.url(values["url"]) if "url" in values else None
        events = checks.events(values.get("events", [ALL_EVENTS]))
        entity = checks.entity(values.get("entity"))
        entity_ok = values.get("entity") is None or entity is not None
        criteria = checks.filter(values.get("filter"), entity, entity_ok)
        secret = checks.secret(values["secret"]) if "secret" in values else new_secret()
        enabled = checks.enabled(values.get("enabled", True))
        now = self.services.clock()
        payload_version = checks.payload_version(
            values.get("payload_version", NEWEST_VERSION), offered_versions(now))
        checks.raise_errors()
        with self.services.engine.begin() as conn:
            created = subscriptions.insert(conn, {
                "id": new_id(), "owner": owner, "url": url, "events": events,
                "entity": entity, "filter": criteria, "secret": secret,
                "previous_secret": None, "previous_secret_expires_at": None,
                "enabled": enabled, "disabled_reason": None, "failing_since": None,
                "created_at": now, "updated_at": now, "version": 1,
                "payload_version": payload_version,
            })
        self.cache.invalidate()
        return subscription_json(created, secret=True)

    def list(self, subject: AccessSubject, *, limit: int = DEFAULT_LIMIT,
             cursor: str | None = None) -> Page:
        """The caller's subscriptions (an admin's: everyone's), oldest first."""
        owner = None if self._is_admin(subject) else self._owner(subject)
        after = _decode_id_cursor(cursor) if cursor is not None else None
        limit = _limit(limit)
        with self.services.engine.connect() as conn:
            found = subscriptions.page(conn, owner=owner, limit=limit + 1, after_id=after)
        more = len(found) > limit
        found = found[:limit]
        return Page([subscription_json(s) for s in found],
                    _encode_id_cursor(found[-1].id) if more and found else None)

    def get(self, subject: AccessSubject, webhook_id: str) -> dict[str, Any]:
        return subscription_json(self._visible(subject, webhook_id))

    def update(
        self, subject: AccessSubject, webhook_id: str, body: Any, *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Change url, events, entity, filter, enabled (enabling clears the failure
        state) or payload_version; StaleRecord when `expected_version` is not the current one."""
        current = self._visible(subject, webhook_id)
        owner = self._owner_subject(current, subject)
        checks = SubscriptionInput(self.guard, self._policy(), owner)
        values = checks.body(body, UPDATE_KEYS)
        changes: dict[str, Any] = {}
        if "url" in values:
            changes["url"] = checks.url(values["url"])
        if "events" in values:
            changes["events"] = checks.events(values["events"])
        entity = current.entity
        entity_ok = True
        if "entity" in values:
            entity = changes["entity"] = checks.entity(values["entity"])
            entity_ok = values["entity"] is None or entity is not None
        if "filter" in values or ("entity" in values and current.filter is not None):
            criteria = values.get("filter", current.filter)
            changes["filter"] = checks.filter(criteria, entity, entity_ok)
        if "enabled" in values:
            enabled = checks.enabled(values["enabled"])
            changes["enabled"] = enabled
            if enabled:
                changes.update(disabled_reason=None, failing_since=None)
        now = self.services.clock()
        if "payload_version" in values:
            changes["payload_version"] = checks.payload_version(values["payload_version"],
                                                                offered_versions(now))
        checks.raise_errors()
        with self.services.engine.begin() as conn:
            if not subscriptions.update(conn, webhook_id, {**changes, "updated_at": now},
                                        expected_version=expected_version):
                raise _stale(webhook_id)
            updated = subscriptions.get(conn, webhook_id)
        self.cache.invalidate()
        assert updated is not None
        return subscription_json(updated)

    def delete(self, subject: AccessSubject, webhook_id: str, *,
               expected_version: int | None = None) -> None:
        current = self._visible(subject, webhook_id)
        if expected_version is not None and current.version != expected_version:
            raise _stale(webhook_id)
        with self.services.engine.begin() as conn:
            subscriptions.delete(conn, webhook_id)
        self.cache.invalidate()

    def rotate_secret(self, subject: AccessSubject, webhook_id: str, body: Any = None
                      ) -> dict[str, Any]:
        """A new secret (given as `{"secret": ...}` or generated); the current one stays
        valid for 24 h. The answer shows the new secret."""
        current = self._visible(subject, webhook_id)
        checks = SubscriptionInput(self.guard, self._policy(), subject)
        values = checks.body({} if body is None else body, ("secret",))
        secret = checks.secret(values["secret"]) if "secret" in values else new_secret()
        checks.raise_errors()
        now = self.services.clock()
        with self.services.engine.begin() as conn:
            if not subscriptions.update(conn, webhook_id, {
                "secret": secret, "previous_secret": current.secret,
                "previous_secret_expires_at": now + ROTATION_GRACE, "updated_at": now,
            }, expected_version=current.version):
                raise _stale(webhook_id)
            rotated = subscriptions.get(conn, webhook_id)
        self.cache.invalidate()
        assert rotated is not None
        return subscription_json(rotated, secret=True)

    # --- deliveries ---------------------------------------------------------------------------

    def deliveries(
        self, subject: AccessSubject, webhook_id: str, *, limit: int = DEFAULT_LIMIT,
        cursor: str | None = None, event_id: str | None = None,
    ) -> Page:
        """The subscription's delivery attempts, newest first."""
        self._visible(subject, webhook_id)
        if event_id is not None and not _plausible_id(event_id):
            return Page([], None)
        with self.services.engine.connect() as conn:
            found, next_cursor = attempts.newest_first(
                conn, webhook_id, limit=_limit(limit), cursor=cursor, event_id=event_id)
        return Page([attempt.to_json() for attempt in found], next_cursor)

    def redeliver(self, subject: AccessSubject, webhook_id: str, event_id: str
                  ) -> dict[str, Any]:
        """Send the delivery of `event_id` again, now (with the same `webhook-id`)."""
        current = self._visible(subject, webhook_id)
        if not current.enabled:
            raise Conflict("the webhook is disabled; enable it before redelivering",
                           [ErrorDetail("is false", "/enabled")])
        item = None
        if _plausible_id(event_id):
            with self.services.engine.connect() as conn:
                item = work_item_store.find(conn, CONSUMER_NAME, webhook_id, event_id)
        if item is None:
            raise NotFound(f"event {event_id} was never delivered to webhook {webhook_id}",
                           [ErrorDetail("no delivery of this event", "/event_id")])
        if not self.services.dispatcher.retry_now(item.id):
            raise Conflict("a delivery attempt of this event is running; try again when it "
                           "has finished", [ErrorDetail("is being delivered", "/event_id")])
        return {"event_id": event_id, "work_item_id": item.id, "status": "pending"}

    # --- helpers ------------------------------------------------------------------------------

    def _policy(self) -> AccessPolicy:
        return self.services.records.runtime().policy

    def _is_admin(self, subject: AccessSubject) -> bool:
        return self._policy().is_admin(subject)

    def _owner(self, subject: AccessSubject) -> str:
        if subject.user_id is None:
            raise Forbidden("webhooks belong to users", [ErrorDetail("no user", "")])
        return subject.user_id

    def _visible(self, subject: AccessSubject, webhook_id: str) -> Subscription:
        found = None
        if _plausible_id(webhook_id):
            with self.services.engine.connect() as conn:
                found = subscriptions.get(conn, webhook_id)
        if found is None or (found.owner != subject.user_id and not self._is_admin(subject)):
            raise NotFound(f"there is no webhook {webhook_id!r}")
        return found

    def _owner_subject(self, subscription: Subscription, caller: AccessSubject
                       ) -> AccessSubject:
        """Whose rights an update is checked with: the owner's (an admin may edit another
        user's subscription, but not widen it beyond what the owner may read)."""
        if subscription.owner == caller.user_id:
            return caller
        owner = self.services.subjects.subject_of(subscription.owner)
        return owner if owner is not None else caller


def _plausible_id(value: object) -> bool:
    """Ids are short printable text; anything else names nothing (and never reaches SQL,
    where PostgreSQL would refuse a NUL character)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()


def _stale(webhook_id: str) -> StaleRecord:
    return StaleRecord(f"webhook {webhook_id} changed since it was read; read it again",
                       [ErrorDetail("does not match the webhook's ETag", "/If-Match",
                                    "header")])


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("invalid request", [
            ErrorDetail(f"must be a whole number from 1 to {MAX_LIMIT}", "/limit")])
    return limit


def _encode_id_cursor(webhook_id: str) -> str:
    return base64.urlsafe_b64encode(webhook_id.encode()).decode().rstrip("=")


def _decode_id_cursor(cursor: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        decoded = ""
    if not _plausible_id(decoded):
        raise ValidationFailed("invalid cursor", [
            ErrorDetail("is not a cursor of this listing", "/cursor")])
    return decoded
