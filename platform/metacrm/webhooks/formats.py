"""Webhook payload formats: version -> how the body is built, its JSON Schema, its deprecation.

A subscription pins one version (`payload_version`) and receives exactly that format until
its owner changes it, however many newer ones ship: an external system is never surprised
by a new shape. Every builder starts from the owner's view of the event
(`payload.owner_view`, format 1, already limited by the owner's access) and only reshapes
it, so access rules live in one place whatever the version.

* Version 1 — `{"type", "timestamp", "data": {"version": 1, "entity", "id", "record",
  "changed"?: [<field>], "previous"?: {<field>: <value before>}, "transition"?, "actor",
  "occurred_at", "merge"?, "merged"?: [<id>]}}` (a record.merged event names the merge and
  the ids merged into the record); `schemas/webhooks/payload.schema.json`. Deprecated since
  `VERSION_1_DEPRECATED`, served until `VERSION_1_SUNSET`.
* Version 2 — the same envelope; `data` adds `event_id` (the `webhook-id`, so a stored body
  still names its event), `entity_label` (the entity's labels by language) and `title` (the
  record's title field as text, null when it has none or it is hidden from the owner), and
  replaces `changed` + `previous` with `changes: [{"field", "from", "to"}]` — one object per
  changed field, so a receiver no longer joins two members by field name;
  `schemas/webhooks/payload.v2.schema.json`.

After its sunset a version is no longer offered for new or changed subscriptions; the
subscriptions still pinned to it keep receiving it until a release removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from metacrm.kernel.deprecation import Deprecation
from metacrm.kernel.jobs import EventRecord
from metacrm.metadata.model import EntityDef

CONTRACT_DOCS = "https://metacrm.dev/docs/api.html#contract-versioning"
"""Where contract versions and the migration between them are described (docs/api.md)."""
VERSION_1_DEPRECATED = datetime(2026, 12, 7, tzinfo=UTC)
"""When version 2 shipped and version 1 became deprecated."""
VERSION_1_SUNSET = datetime(2027, 7, 1, tzinfo=UTC)
"""Version 1 is served until then (just short of seven months after its deprecation)."""

BuildBody = Callable[[Mapping[str, Any], EventRecord, EntityDef], dict[str, Any]]
"""(owner's view in format 1, the event, the entity) -> the body in this format."""


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """One version of the delivery body."""

    version: int
    schema: str
    """Its JSON Schema, a file of `schemas/webhooks/`."""
    build: BuildBody
    deprecation: Deprecation | None = None

    def delivery_headers(self) -> dict[str, str]:
        """Headers each delivery in this format carries (a deprecated one announces it)."""
        return {} if self.deprecation is None else self.deprecation.headers()


def _version_1(view: Mapping[str, Any], event: EventRecord, entity: EntityDef
               ) -> dict[str, Any]:
    return dict(view)


def _version_2(view: Mapping[str, Any], event: EventRecord, entity: EntityDef
               ) -> dict[str, Any]:
    source = view["data"]
    record = source["record"]
    data: dict[str, Any] = {
        "version": 2,
        "event_id": event.id,
        "entity": source["entity"],
        "entity_label": dict(entity.label),
        "id": source["id"],
        "title": _title(entity, record),
        "record": record,
    }
    if "changed" in source:
        before = source.get("previous") or {}
        data["changes"] = [{"field": name, "from": before.get(name), "to": record.get(name)}
                           for name in source["changed"]]
    if "transition" in source:
        data["transition"] = source["transition"]
    data["actor"] = source["actor"]
    data["occurred_at"] = source["occurred_at"]
    if "merged" in source:
        data["merge"] = source["merge"]
        data["merged"] = source["merged"]
    return {"type": view["type"], "timestamp": view["timestamp"], "data": data}


def _title(entity: EntityDef, record: Mapping[str, Any]) -> str | None:
    """The record's title field as text; the record is the owner's view, so a hidden title
    field is absent and gives None."""
    if not entity.title_field:
        return None
    value = record.get(entity.title_field)
    if value is None or value == "" or isinstance(value, Mapping | list):
        return None
    return str(value)


FORMATS: Mapping[int, PayloadFormat] = {
    1: PayloadFormat(1, "payload.schema.json", _version_1,
                     Deprecation(VERSION_1_DEPRECATED, VERSION_1_SUNSET, CONTRACT_DOCS)),
    2: PayloadFormat(2, "payload.v2.schema.json", _version_2),
}
NEWEST_VERSION = max(FORMATS)
"""The version new subscriptions get unless they ask for another."""


def payload_format(version: int) -> PayloadFormat | None:
    """The format of `version`; None when this release does not serve it."""
    return FORMATS.get(version)


def offered_versions(now: datetime) -> tuple[int, ...]:
    """The versions a subscription may choose at `now`: served and not past their sunset."""
    return tuple(version for version, found in sorted(FORMATS.items())
                 if found.deprecation is None or not found.deprecation.is_past_sunset(now))
