"""The body of a webhook delivery (format version 1), as its subscription's owner may see it.

`{"type": "record.updated", "timestamp": <when the event happened>, "data": {"version": 1,
"entity", "id", "record", "changed"?, "previous"?, "transition"?, "actor", "occurred_at"}}`
— JSON Schema: `schemas/webhooks/payload.schema.json`. The outbox payload is the source;
what the owner could not read through the API is taken out: no body at all (None) when the
record is outside their read scope, and fields hidden from them are removed from `record`,
`previous` and `changed` (and `transition` when the pipeline's state field is hidden).
Other keys of the outbox payload (internal ones, such as automation's `chain`) are never
passed on. The body is the same on every retry of a delivery.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from metacrm.access.event_records import readable_record, visible_changes, visible_values
from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.jobs import EventRecord

PAYLOAD_VERSION = 1


def owner_view(
    event: EventRecord, policy: AccessPolicy, owner: AccessSubject, *, now: datetime
) -> dict[str, Any] | None:
    """The delivery body of `event` for `owner`; None when they may not read the record
    (or its entity no longer exists)."""
    if policy.model.entity(event.entity) is None:
        return None
    source = event.payload
    record = source.get("record")
    if not isinstance(record, Mapping):
        return None
    if not readable_record(policy, owner, event.entity, record, now=now):
        return None
    occurred_at = source.get("occurred_at") or datetime_to_json(event.created_at)
    data: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "entity": event.entity,
        "id": str(source.get("id", event.record_id)),
        "record": visible_values(policy, owner, event.entity, record),
    }
    if "changed" in source:
        data["changed"] = visible_changes(policy, owner, event.entity,
                                          _names(source["changed"]))
    if isinstance(source.get("previous"), Mapping):
        data["previous"] = visible_values(policy, owner, event.entity, source["previous"])
    transition = source.get("transition")
    if isinstance(transition, Mapping) and _state_visible(policy, owner, event.entity,
                                                           transition):
        data["transition"] = dict(transition)
    data["actor"] = source.get("actor")
    data["occurred_at"] = occurred_at
    data.update(_merge(source))
    return {"type": event.type, "timestamp": occurred_at, "data": data}


def _merge(source: Mapping[str, Any]) -> dict[str, Any]:
    """A record.merged event's merge id and the ids merged into the survivor. Only ids:
    the merged records are gone and their values were the survivor's to take or drop."""
    merged = source.get("merged")
    if not isinstance(merged, list) or not isinstance(source.get("merge"), str):
        return {}
    return {"merge": source["merge"], "merged": [str(item) for item in merged]}


def encode(body: Mapping[str, Any]) -> str:
    """The exact text that is signed and sent (compact, UTF-8, keys in a stable order)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _names(value: Any) -> list[str]:
    return [name for name in value if isinstance(name, str)] if isinstance(value, list) else []


def _state_visible(
    policy: AccessPolicy, owner: AccessSubject, entity: str, transition: Mapping[str, Any]
) -> bool:
    """A transition tells the old and new state: only for owners who see the state field."""
    hidden = policy.field_access(owner, entity).hidden
    definition = policy.entity(entity)
    pipeline = transition.get("pipeline")
    return not any(
        field.type == "state" and field.options.get("pipeline") == pipeline
        and field.name in hidden
        for field in definition.fields
    )
