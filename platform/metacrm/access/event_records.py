"""Records carried by events, judged for one subject in memory: row scope and field security.

An outbox event holds the whole record in JSON form (`metacrm.storage.outbox`); consumers
that pass it on to a user — a webhook subscription's owner — must apply that user's access
exactly as a read through the API would: no delivery at all when the record is outside their
read scope, and no field hidden from them. The scope's rules are criteria over normalised
Python values, so the record is first read back from its JSON form with the field types of
the live model (`python_record`).

Fail closed: a value that no longer fits its field (the metadata changed since the event)
makes the record unreadable for scoped subjects, and a key that is neither a system column
nor a field of the live entity is left out of what the subject sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.base import FieldValueError
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.fieldtypes.temporal import parse_datetime
from metacrm.metadata.model import SYSTEM_COLUMNS, EntityDef

TIMESTAMP_COLUMNS = frozenset({"created_at", "updated_at"})


def python_record(
    entity: EntityDef, registry: FieldTypeRegistry, values: Mapping[str, Any]
) -> dict[str, Any] | None:
    """A record in JSON form -> normalised Python values (system columns and the entity's
    fields; other keys dropped); None when a value does not fit its field any more."""
    result: dict[str, Any] = {}
    try:
        for name in SYSTEM_COLUMNS:
            if name in values:
                value = values[name]
                if value is not None and name in TIMESTAMP_COLUMNS:
                    value = parse_datetime(value)
                result[name] = value
        for field in entity.fields:
            value = values.get(field.name)
            if value is not None:
                value = registry.get(field.type).normalize(field, value)
            result[field.name] = value
    except (FieldValueError, ValueError, TypeError):
        return None
    return result


def readable_record(
    policy: AccessPolicy,
    subject: AccessSubject,
    entity: str,
    record: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> bool:
    """Whether `subject` may read `record` (JSON form) of `entity`: their read scope, its
    rules evaluated on the record (`now` for `$now`/`$today`)."""
    scope = policy.scope(subject, entity, "read")
    if not scope.allowed:
        return False
    if scope.unrestricted:
        return True
    values = python_record(policy.entity(entity), policy.registry, record)
    if values is None:
        return False
    return policy.check(subject, entity, "read", subject.criteria_context(now))(values)


def visible_values(
    policy: AccessPolicy, subject: AccessSubject, entity: str, values: Mapping[str, Any]
) -> dict[str, Any]:
    """`values` (a record or some of its fields, JSON form) without what `subject` may not
    see: fields hidden from them and keys the live entity does not know."""
    definition = policy.entity(entity)
    hidden = policy.field_access(subject, entity).hidden
    known = set(SYSTEM_COLUMNS) | set(definition.field_names)
    return {name: value for name, value in values.items()
            if name in known and name not in hidden}


def visible_changes(
    policy: AccessPolicy, subject: AccessSubject, entity: str, changed: Iterable[str]
) -> list[str]:
    """The changed field names (of an update event) that `subject` may see, in order."""
    names = list(changed)
    allowed = visible_values(policy, subject, entity, dict.fromkeys(names))
    return [name for name in names if name in allowed]


def change_hidden_from(
    policy: AccessPolicy, subject: AccessSubject, entity: str, payload: Mapping[str, Any]
) -> bool:
    """Whether an event changed only fields hidden from `subject`: announcing it to them,
    even without the fields, would tell them a hidden field changed (and its new version)."""
    changed = payload.get("changed")
    if not isinstance(changed, list) or not changed:
        return False
    names = [name for name in changed if isinstance(name, str)]
    return not visible_changes(policy, subject, entity, names)
