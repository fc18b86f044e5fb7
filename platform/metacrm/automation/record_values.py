"""Records in JSON form (as events carry them) -> the Python values criteria compare.

Trigger conditions are criteria predicates (`metacrm.criteria.predicate`), which compare
normalised Python values (dates, Decimals, aware datetimes...). Events carry records in JSON
form; each field type's `normalize` turns a JSON value back into its Python value, and the
system timestamps are parsed from RFC 3339. A value that no longer fits its field (the
metadata changed since the event was written) counts as empty rather than failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from metacrm.fieldtypes.base import FieldValueError
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef

TIMESTAMP_COLUMNS = ("created_at", "updated_at")


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (`...Z`) as an aware datetime; None when it is none."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def python_value(
    entity: EntityDef, registry: FieldTypeRegistry, name: str, value: Any
) -> Any:
    """One JSON value of field (or system column) `name` in Python form; None if empty."""
    if value is None:
        return None
    if name in TIMESTAMP_COLUMNS:
        return parse_timestamp(value)
    fdef = entity.field(name)
    if fdef is None:
        return value
    try:
        return registry.get(fdef.type).normalize(fdef, value)
    except (FieldValueError, ValueError, TypeError, KeyError):
        return None


def python_record(
    entity: EntityDef, registry: FieldTypeRegistry, record: Mapping[str, Any]
) -> dict[str, Any]:
    """A JSON record as criteria predicates read it."""
    return {name: python_value(entity, registry, name, value) for name, value in record.items()}


def record_before(record: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """The record as it was before a change (JSON form): after, with the previous values."""
    return {**record, **previous}
