"""Checks of webhook subscription input: every problem reported at once, each with a pointer.

`url` must pass the SSRF guard (`addresses`), `events` name known event types (or `*`),
`entity` an entity the owner may read, `filter` a criteria tree over the fields the owner
may see (and needs `entity`), `secret` a Standard Webhooks secret, `enabled` a boolean,
`payload_version` a payload format version still offered (`formats.offered_versions`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.criteria.tree import check_criteria
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.webhooks.addresses import AddressGuard, UnsafeTarget
from metacrm.webhooks.formats import payload_format
from metacrm.webhooks.signing import secret_problem
from metacrm.webhooks.subscriptions import ALL_EVENTS, EVENT_TYPES

CREATE_KEYS = ("url", "events", "entity", "filter", "secret", "enabled", "payload_version")
UPDATE_KEYS = ("url", "events", "entity", "filter", "enabled", "payload_version")
MAX_FILTER_LENGTH = 20_000
PROBLEM = "invalid webhook subscription"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class SubscriptionInput:
    """Checks one create or update body for one owner; `errors` collects the problems."""

    def __init__(self, guard: AddressGuard, policy: AccessPolicy, owner: AccessSubject) -> None:
        self.guard = guard
        self.policy = policy
        self.owner = owner
        self.errors: list[ErrorDetail] = []

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(ErrorDetail(message, pointer))

    def raise_errors(self) -> None:
        if self.errors:
            raise ValidationFailed(PROBLEM, self.errors)

    def body(self, body: Any, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(body, Mapping):
            raise ValidationFailed(PROBLEM, [ErrorDetail("must be a JSON object", "")])
        for key in body:
            if key == "secret" and "secret" not in allowed:
                self.error("the secret changes only through POST .../rotate-secret", "/secret")
            elif key not in allowed:
                self.error(f"unknown member {key!r}; use: {', '.join(allowed)}",
                           f"/{_escape(str(key))}")
        return body

    def url(self, value: Any) -> str | None:
        if not isinstance(value, str):
            self.error("must be an http or https URL", "/url")
            return None
        try:
            self.guard.check(value.strip())
        except UnsafeTarget as exc:
            self.error(str(exc), "/url")
            return None
        return value.strip()

    def events(self, value: Any) -> list[str] | None:
        choices = ", ".join((*EVENT_TYPES, ALL_EVENTS))
        if not isinstance(value, list) or not value:
            self.error(f"must be a non-empty list of event types: {choices}", "/events")
            return None
        seen: list[str] = []
        for index, item in enumerate(value):
            if item not in (*EVENT_TYPES, ALL_EVENTS):
                self.error(f"unknown event type {item!r}; use: {choices}", f"/events/{index}")
            elif item in seen:
                self.error(f"{item!r} is listed twice", f"/events/{index}")
            else:
                seen.append(item)
        return seen if len(seen) == len(value) else None

    def entity(self, value: Any) -> str | None:
        """The entity (None: every entity); an unknown one, or one the owner may not read,
        is reported alike (no hint about entities they cannot see)."""
        if value is None:
            return None
        if (not isinstance(value, str) or self.policy.model.entity(value) is None
                or not self.policy.scope(self.owner, value, "read").allowed):
            self.error(f"unknown entity {value!r}" if isinstance(value, str)
                       else "must be an entity name or null", "/entity")
            return None
        return value

    def filter(self, value: Any, entity: str | None, entity_ok: bool) -> Any:
        if value is None:
            return None
        if entity is None:
            if entity_ok:
                self.error("a filter needs an entity to filter on", "/filter")
            return None
        try:
            text = json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            self.error("must be a criteria tree", "/filter")
            return None
        if len(text) > MAX_FILTER_LENGTH:
            self.error(f"is longer than {MAX_FILTER_LENGTH} characters", "/filter")
            return None
        visible = self.policy.visible_entity(self.owner, entity)
        found = check_criteria(value, visible, self.policy.registry, pointer="/filter")
        self.errors.extend(found)
        return None if found else value

    def secret(self, value: Any) -> str | None:
        problem = secret_problem(value)
        if problem is not None:
            self.error(problem, "/secret")
            return None
        return str(value)

    def enabled(self, value: Any) -> bool | None:
        if not isinstance(value, bool):
            self.error("must be true or false", "/enabled")
            return None
        return value

    def payload_version(self, value: Any, offered: tuple[int, ...]) -> int | None:
        """A payload format version among `offered`; one past its sunset is named as such."""
        choices = ", ".join(str(version) for version in offered)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"must be a payload format version: {choices}", "/payload_version")
            return None
        if value not in offered:
            known = payload_format(value)
            if known is not None and known.deprecation is not None:
                sunset = known.deprecation.sunset.date().isoformat()
                self.error(f"payload format version {value} reached its sunset on {sunset}; "
                           f"supported: {choices}", "/payload_version")
            else:
                self.error(f"unsupported payload format version {value}; supported: "
                           f"{choices}", "/payload_version")
            return None
        return value
