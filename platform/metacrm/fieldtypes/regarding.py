"""The `regarding` field type: a link to a record of one of several entities (a task about a
lead, a deal or a company).

Two columns: `<name>` holds the record id (so criteria, related lists and the delete rules
filter on it like on a reference) and `<name>_entity` the entity. There is no foreign key —
one column cannot reference several tables — so the repository checks on every write that
the record exists and that the writer may read it, and applies `on_delete` itself, as it
does for references.

JSON form `{"entity": "lead", "id": "<uuid>"}`; input also accepts the text `lead:<uuid>`,
so an automation template (`"lead:{{ record.id }}"`) or a CSV cell can give one.
Criteria compare the id (`{"field": "regarding", "op": "eq", "value": "<uuid>"}`); record
ids are UUIDv7, unique across entities.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import fields as ma_fields
from sqlalchemy import String

from metacrm.fieldtypes.base import COMMON_OPERATORS, ColumnSpec, FieldType, FieldValueError
from metacrm.fieldtypes.common import FieldTypeField, OptionErrors, default_errors, require_str
from metacrm.fieldtypes.relation import ID_LENGTH, ON_DELETE
from metacrm.metadata.model import FieldDef

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ENTITY_LENGTH = 64


@dataclass(frozen=True, slots=True)
class RecordLink:
    """A record of some entity; the Python value of `regarding` fields."""

    entity: str
    id: str

    def __str__(self) -> str:
        return f"{self.entity}:{self.id}"


def entity_column(field: FieldDef) -> str:
    """The column holding the linked record's entity."""
    return f"{field.name}_entity"


def allowed_entities(field: FieldDef) -> tuple[str, ...]:
    names = field.option("entities")
    if not isinstance(names, list | tuple):
        return ()
    return tuple(name for name in names if isinstance(name, str))


def record_id(text: Any) -> str:
    """A lower-case UUID text, or FieldValueError."""
    value = require_str(text).strip()
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or len(value) != ID_LENGTH:
        raise FieldValueError("is not a valid record id")
    return str(parsed)


class RegardingType(FieldType):
    """`entities`: the entities a value may link to; `on_delete` as for references."""

    name = "regarding"
    operators = COMMON_OPERATORS
    option_names = frozenset({"entities", "on_delete"})
    sortable = False

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, String(ID_LENGTH)),
                ColumnSpec(entity_column(field), String(ENTITY_LENGTH))]

    def to_storage(self, field: FieldDef, value: Any) -> dict[str, Any]:
        if value is None:
            return {field.name: None, entity_column(field): None}
        return {field.name: value.id, entity_column(field): value.entity}

    def from_storage(self, field: FieldDef, row: Mapping[str, Any]) -> RecordLink | None:
        linked = row[field.name]
        entity = row.get(entity_column(field))
        if linked is None or not entity:
            return None
        return RecordLink(str(entity), str(linked))

    def normalize(self, field: FieldDef, value: Any) -> RecordLink:
        entity: Any
        linked: Any
        if isinstance(value, RecordLink):
            entity, linked = value.entity, value.id
        elif isinstance(value, Mapping):
            unknown = set(value) - {"entity", "id"}
            if unknown:
                raise FieldValueError(f"has unknown keys {sorted(unknown)}; expected entity "
                                      "and id")
            entity, linked = value.get("entity"), value.get("id")
        elif isinstance(value, str) and ":" in value:
            entity, _, linked = value.strip().partition(":")
        else:
            raise FieldValueError('must be {"entity": "<entity>", "id": "<record id>"}')
        allowed = allowed_entities(field)
        if not isinstance(entity, str) or entity not in allowed:
            raise FieldValueError(f"entity must be one of: {', '.join(allowed)}")
        if linked is None:
            raise FieldValueError("needs the id of the record")
        return RecordLink(entity, record_id(linked))

    def criteria_value(self, field: FieldDef, value: Any) -> Any:
        return value.id if isinstance(value, RecordLink) else value

    def coerce_operand(self, field: FieldDef, value: Any) -> str:
        """Criteria compare ids: accept an id or a link (its id)."""
        if isinstance(value, RecordLink | Mapping) or (isinstance(value, str) and ":" in value):
            return self.normalize(field, value).id
        return record_id(value)

    def to_json(self, field: FieldDef, value: Any) -> dict[str, str]:
        return {"entity": value.entity, "id": value.id}

    def default(self, field: FieldDef) -> None:
        return None

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        names = field.option("entities")
        if names is None:
            errors.append(("entities", "is required: the entities a value may link to"))
        elif (not isinstance(names, list | tuple) or not names
              or not all(isinstance(n, str) and NAME.match(n) for n in names)):
            errors.append(("entities", "must be a non-empty list of entity names"))
        elif len(set(names)) != len(names):
            errors.append(("entities", "must not name an entity twice"))
        on_delete = field.option("on_delete")
        if on_delete is not None and on_delete not in ON_DELETE:
            errors.append(("on_delete", f"must be one of: {', '.join(ON_DELETE)}"))
        if field.default is not None:
            errors.append(("default", "a link has no default"))
        return errors + default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "entity": {"type": "string", "enum": list(allowed_entities(field))},
                "id": {"type": "string", "format": "uuid"},
            },
            "required": ["entity", "id"],
            "additionalProperties": False,
        }

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)
