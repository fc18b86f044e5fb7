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
from metacrm.metadata.model import CompiledModel, FieldDef

ToJson = Callable[[Any], Any]


def _field_json(field_type: FieldType, fdef: FieldDef, value: Any) -> Any:
    return field_type.to_json(fdef, value)


def _system_value(value: Any) -> Any:
    return datetime_to_json(value) if isinstance(value, datetime) else value


class RecordJson:
    """Python records -> JSON-ready dicts, for every entity of one model."""

    def __init__(self, model: CompiledModel, registry: FieldTypeRegistry) -> None:
        self._plans: dict[str, dict[str, ToJson | None]] = {}
        for name, entity in model.entities.items():
            plan: dict[str, ToJson | None] = {}
            for fdef in entity.fields:
                field_type = registry.get(fdef.type)
                # types whose JSON form is their Python value need no call per value
                plain = type(field_type).to_json is FieldType.to_json
                plan[fdef.name] = None if plain else partial(_field_json, field_type, fdef)
            self._plans[name] = plan

    def value(self, entity: str, name: str, value: Any) -> Any:
        """One value in JSON form (None stays None)."""
        if value is None:
            return None
        plan = self._plans[entity]
        if name not in plan:
            return _system_value(value)
        convert = plan[name]
        return value if convert is None else convert(value)

    def record(self, entity: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Every key of `record` in JSON form (system columns included)."""
        plan = self._plans[entity]
        result: dict[str, Any] = {}
        for name, value in record.items():
            if value is None or name == "id" or name == "version":
                result[name] = value
            elif name in plan:
                convert = plan[name]
                result[name] = value if convert is None else convert(value)
            else:
                result[name] = _system_value(value)
        return result
