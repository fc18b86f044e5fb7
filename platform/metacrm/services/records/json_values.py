"""Records in their JSON form: what the API sends, the audit trail and the outbox store.

Money and decimals become strings, datetimes RFC 3339 UTC, multi-picklists lists — each
field type's `to_json`. The per-field plan is worked out once per compiled model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from metacrm.fieldtypes.base import FieldType
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.metadata.model import CompiledModel

ToJson = Callable[[Any], Any]


SYSTEM_JSON: dict[str, ToJson | None] = {
    "id": None, "version": None, "created_by": None, "updated_by": None, "owner": None,
    "created_at": datetime_to_json, "updated_at": datetime_to_json,
}
"""The system columns' conversions (None: the value is its own JSON form)."""


def _system_value(value: Any) -> Any:
    return datetime_to_json(value) if isinstance(value, datetime) else value


class RecordJson:
    """Python records -> JSON-ready dicts, for every entity of one model."""

    def __init__(self, model: CompiledModel, registry: FieldTypeRegistry) -> None:
        self._plans: dict[str, dict[str, ToJson | None]] = {}
        for name, entity in model.entities.items():
            plan: dict[str, ToJson | None] = dict(SYSTEM_JSON)
            for fdef in entity.fields:
                field_type = registry.get(fdef.type)
                # types whose JSON form is their Python value need no call per value
                plain = type(field_type).to_json is FieldType.to_json
                plan[fdef.name] = None if plain else partial(field_type.to_json, fdef)
            self._plans[name] = plan

    def value(self, entity: str, name: str, value: Any) -> Any:
        """One value in JSON form (None stays None)."""
        if value is None:
            return None
        convert = self._plans[entity].get(name, _system_value)
        return value if convert is None else convert(value)

    def record(self, entity: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Every key of `record` in JSON form (system columns included). The hot loop of
        every list page: one dict lookup and at most one call per value."""
        plan = self._plans[entity].get
        result: dict[str, Any] = {}
        for name, value in record.items():
            if value is None:
                result[name] = None
                continue
            convert = plan(name, _system_value)
            result[name] = value if convert is None else convert(value)
        return result
