"""Field types that point at something else: another record, a user, a pipeline state.

They hold ids or names that the type itself cannot verify (the referenced row, the user
directory, the pipeline): the database's foreign key checks references; the records service
checks users and states against the compiled model.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from marshmallow import fields as ma_fields
from sqlalchemy import String

from metacrm.fieldtypes.base import (
    COMMON_OPERATORS,
    ColumnSpec,
    FieldType,
    FieldValueError,
    StorageChange,
)
from metacrm.fieldtypes.common import FieldTypeField, OptionErrors, default_errors, require_str
from metacrm.metadata.model import FieldDef

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ON_DELETE = {"restrict": "RESTRICT", "set_null": "SET NULL", "cascade": "CASCADE"}
ID_LENGTH = 36
USER_ID_LENGTH = 64
STATE_LENGTH = 64


class _IdentifierType(FieldType):
    """A short string compared exactly (eq, in, is_null...)."""

    operators = COMMON_OPERATORS
    max_length = 64

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, String(self.max_length))]

    def normalize(self, field: FieldDef, value: Any) -> str:
        text = require_str(value).strip()
        if not text:
            raise FieldValueError("must not be empty")
        if len(text) > self.max_length:
            raise FieldValueError(f"must be at most {self.max_length} characters")
        return text

    def option_errors(self, field: FieldDef) -> OptionErrors:
        return default_errors(self, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": self.max_length}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field)


class ReferenceType(_IdentifierType):
    """The id of a record of entity `entity`; `on_delete`: restrict, set_null, cascade."""

    name = "reference"
    option_names = frozenset({"entity", "on_delete"})
    max_length = ID_LENGTH

    def on_delete(self, field: FieldDef) -> str:
        return ON_DELETE.get(str(field.option("on_delete", "set_null")), "SET NULL")

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        target = field.target_entity or ""
        return [
            ColumnSpec(
                field.name,
                String(ID_LENGTH),
                foreign_key=f"crm_{target}.id",
                ondelete=self.on_delete(field),
            )
        ]

    def storage_change(self, old: FieldDef, new: FieldDef) -> StorageChange:
        """A different target or delete rule means a different foreign key: a new column."""
        same = (old.target_entity, self.on_delete(old)) == (
            new.target_entity,
            self.on_delete(new),
        )
        return StorageChange.NONE if same else StorageChange.REPLACE

    def normalize(self, field: FieldDef, value: Any) -> str:
        text = require_str(value).strip()
        try:
            parsed: uuid.UUID | None = uuid.UUID(text)
        except ValueError:
            parsed = None
        if parsed is None or len(text) != ID_LENGTH:
            raise FieldValueError("is not a valid record id")
        return str(parsed)

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        entity = field.option("entity")
        if entity is None:
            errors.append(("entity", "is required: the name of the referenced entity"))
        elif not isinstance(entity, str) or not NAME.match(entity):
            errors.append(("entity", "must be an entity name"))
        on_delete = field.option("on_delete")
        if on_delete is not None and on_delete not in ON_DELETE:
            errors.append(("on_delete", f"must be one of: {', '.join(ON_DELETE)}"))
        return errors + super().option_errors(field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "string", "format": "uuid"}


class UserType(_IdentifierType):
    """The id of a user (text, so record tables do not depend on the identity provider)."""

    name = "user"
    max_length = USER_ID_LENGTH


class StateType(_IdentifierType):
    """The name of a state of the field's `pipeline`; validity is checked by the records
    service, which knows the pipelines; the default is the pipeline's initial state."""

    name = "state"
    option_names = frozenset({"pipeline"})
    max_length = STATE_LENGTH

    def option_errors(self, field: FieldDef) -> OptionErrors:
        pipeline = field.option("pipeline")
        errors: OptionErrors = []
        if pipeline is None:
            errors.append(("pipeline", "is required: the name of the field's pipeline"))
        elif not isinstance(pipeline, str) or not NAME.match(pipeline):
            errors.append(("pipeline", "must be a pipeline name"))
        return errors + super().option_errors(field)
