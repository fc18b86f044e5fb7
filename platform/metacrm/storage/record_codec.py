"""Records <-> rows for one entity, with everything per-field worked out once per model.

A record is a dict: the system columns plus, per field, its normalised Python value (money a
`Money`, a multi-picklist a tuple...). A row is what the table stores: one value per column,
money taking two. `EntityCodec` precomputes, for one entity, which field types need their own
conversion and which store their value as is, so reading or writing a row is a tight loop
with no lookups in the model or the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.base import FieldType
from metacrm.fieldtypes.match_keys import match_key
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import SYSTEM_COLUMNS, EntityDef, FieldDef

Record = dict[str, Any]

NORMALIZE_ERRORS = (ValueError, TypeError, ArithmeticError)
"""`FieldValueError` is a ValueError; the others come from a type that missed a case."""

def _region(fdef: FieldDef | None) -> str | None:
    """The default region of a phone field (numbers written without a country code)."""
    region = fdef.option("default_region") if fdef is not None else None
    return region if isinstance(region, str) else None


_INVALID: Any = object()
"""What `_normalize` returns for a value it reported as invalid."""


@dataclass(frozen=True, slots=True)
class FieldSlot:
    """One field of an entity with its type and how its value reaches the columns."""

    field: FieldDef
    type: FieldType
    columns: tuple[str, ...]
    plain_storage: bool
    """The type stores its Python value as is in one column (base `to_storage`)."""
    plain_load: bool
    """The type reads its value as is from one column (base `from_storage`)."""

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def auto_number(self) -> bool:
        return not self.type.settable

    def refusal(self, trusted: bool) -> str | None:
        """Why a caller may not write this field, or None when it may."""
        if not self.type.settable:
            return "is numbered automatically and cannot be set"
        if self.field.read_only and not trusted:
            return "is read-only"
        return None


def _slot(fdef: FieldDef, registry: FieldTypeRegistry) -> FieldSlot:
    field_type = registry.get(fdef.type)
    columns = tuple(spec.name for spec in field_type.columns(fdef))
    cls = type(field_type)
    single = columns == (fdef.name,)
    return FieldSlot(
        field=fdef,
        type=field_type,
        columns=columns,
        plain_storage=single and cls.to_storage is FieldType.to_storage,
        plain_load=single and cls.from_storage is FieldType.from_storage,
    )


class EntityCodec:
    """Validation, normalisation and row conversion for one entity's records."""

    def __init__(self, entity: EntityDef, table: sa.Table, registry: FieldTypeRegistry) -> None:
        self.entity = entity
        self.table = table
        self.slots: tuple[FieldSlot, ...] = tuple(_slot(f, registry) for f in entity.fields)
        self.by_name: dict[str, FieldSlot] = {slot.name: slot for slot in self.slots}
        self.auto_slots = tuple(slot for slot in self.slots if slot.auto_number)
        self.reference_slots = tuple(
            slot for slot in self.slots if slot.field.type == "reference"
        )
        self.regarding_slots = tuple(
            slot for slot in self.slots if slot.field.type == "regarding"
        )
        keys = {key.column for key in entity.match_keys}
        self.columns: list[sa.Column[Any]] = [c for c in table.c if c.name not in keys]
        self._key_plan = tuple(
            (key.field, key.column, key.normalisers,
             _region(entity.field(key.field)))
            for key in entity.match_keys
        )
        self.field_of_column: dict[str, str] = {
            column: slot.name for slot in self.slots for column in slot.columns
        }
        # per-field plans for the hot loops: plain tuples, no attribute lookups per row
        self._write_plan = tuple(
            (slot.name, slot.type.normalize, slot.field, slot.refusal(False),
             slot.refusal(True), slot.field.required and not slot.auto_number)
            for slot in self.slots
        )
        self._storage_plan = tuple(
            (slot.name, slot.columns, None if slot.plain_storage else slot.type.to_storage,
             slot.field)
            for slot in self.slots
        )

    # --- writes ------------------------------------------------------------------------

    def _unknown(self, key: Any, pointer: str) -> ErrorDetail:
        if key in SYSTEM_COLUMNS:
            return ErrorDetail(f"{key!r} is a system column and is set by the engine", pointer)
        return ErrorDetail(f"{key!r} is not a field of {self.entity.name!r}", pointer)

    def _normalize(self, slot: FieldSlot, value: Any, pointer: str,
                   errors: list[ErrorDetail]) -> Any:
        if value is None:
            return None
        try:
            return slot.type.normalize(slot.field, value)
        except NORMALIZE_ERRORS as exc:
            errors.append(ErrorDetail(str(exc) or "is not a valid value", pointer))
            return _INVALID

    def for_insert(
        self,
        values: Mapping[str, Any],
        defaults: Mapping[str, Any],
        prefix: str,
        errors: list[ErrorDetail],
        *,
        trusted: bool = False,
    ) -> Record:
        """Every field's normalised value for a new record; problems go to `errors`.

        Absent fields take their default (`defaults`: the defaults of this batch). Auto-number
        fields stay None here; the repository numbers them.
        """
        if not isinstance(values, Mapping):
            errors.append(ErrorDetail("must be an object of field values", prefix or "/"))
            return {}
        by_name = self.by_name
        if not by_name.keys() >= values.keys():
            errors.extend(self._unknown(key, f"{prefix}/{key}")
                          for key in values if key not in by_name)
        record: Record = {}
        for name, normalize, fdef, refused, refused_trusted, required in self._write_plan:
            if name in values:
                refusal = refused_trusted if trusted else refused
                if refusal is not None:
                    errors.append(ErrorDetail(refusal, f"{prefix}/{name}"))
                    record[name] = None
                    continue
                raw = values[name]
                if raw is None:
                    value = None
                else:
                    try:
                        value = normalize(fdef, raw)
                    except NORMALIZE_ERRORS as exc:
                        errors.append(ErrorDetail(str(exc) or "is not a valid value",
                                                  f"{prefix}/{name}"))
                        record[name] = None
                        continue
            else:
                value = defaults.get(name)
            if value is None and required:
                errors.append(ErrorDetail("is required", f"{prefix}/{name}"))
            record[name] = value
        return record

    def for_update(
        self, changes: Mapping[str, Any], *, trusted: bool = False
    ) -> Record:
        """The normalised values of the changed fields; ValidationFailed lists every problem."""
        errors: list[ErrorDetail] = []
        if not isinstance(changes, Mapping):
            raise ValidationFailed(
                "invalid changes", [ErrorDetail("must be an object of field values", "/")]
            )
        record: Record = {}
        for key, raw in changes.items():
            slot = self.by_name.get(key)
            pointer = f"/{key}"
            if slot is None:
                errors.append(self._unknown(key, pointer))
                continue
            refusal = slot.refusal(trusted)
            if refusal is not None:
                errors.append(ErrorDetail(refusal, pointer))
                continue
            value = self._normalize(slot, raw, pointer, errors)
            if value is _INVALID:
                continue
            if value is None and slot.field.required:
                errors.append(ErrorDetail("is required and cannot be emptied", pointer))
                continue
            record[key] = value
        if errors:
            raise ValidationFailed(f"invalid {self.entity.name} changes", errors)
        return record

    def defaults(self) -> dict[str, Any]:
        """Default values of every field that has one, computed now (`$today`, `$now`)."""
        result: dict[str, Any] = {}
        for slot in self.slots:
            if slot.auto_number:
                continue
            value = slot.type.default(slot.field)
            if value is not None:
                result[slot.name] = value
        return result

    def to_row(self, record: Mapping[str, Any], row: dict[str, Any]) -> dict[str, Any]:
        """Write the storage form of `record`'s fields into `row` (column name -> value)."""
        for name, columns, to_storage, fdef in self._storage_plan:
            if name not in record:
                continue
            value = record[name]
            if to_storage is None:
                row[name] = value
            elif value is None:
                for column in columns:
                    row[column] = None
            else:
                row.update(to_storage(fdef, value))
        for field, column, normalisers, region in self._key_plan:
            if field in record:
                row[column] = match_key(record[field], normalisers, region=region)
        return row

    # --- reads -------------------------------------------------------------------------

    def select_fields(self, fields: Sequence[str] | None) -> tuple[FieldSlot, ...]:
        """The slots a query returns; ValidationFailed (`/fields/<i>`) for unknown names."""
        if fields is None:
            return self.slots
        if isinstance(fields, str) or not isinstance(fields, Sequence):
            raise ValidationFailed(
                "invalid fields", [ErrorDetail("must be a list of field names", "/fields")]
            )
        errors = [
            ErrorDetail(f"{name!r} is not a field of {self.entity.name!r}", f"/fields/{i}")
            for i, name in enumerate(fields)
            if not isinstance(name, str)
            or (name not in self.by_name and name not in SYSTEM_COLUMNS)
        ]
        if errors:
            raise ValidationFailed("invalid fields", errors)
        wanted = set(fields)
        return tuple(slot for slot in self.slots if slot.name in wanted)

    def columns_of(self, slots: Sequence[FieldSlot]) -> list[sa.Column[Any]]:
        c = self.table.c
        return [c[name] for name in SYSTEM_COLUMNS] + [
            c[column] for slot in slots for column in slot.columns
        ]

    def reader(self, slots: Sequence[FieldSlot]) -> Callable[[Mapping[Any, Any]], Record]:
        """A function turning a row mapping into a record with the given fields."""
        system = SYSTEM_COLUMNS
        plan = tuple(
            (slot.name, None if slot.plain_load else slot.type.from_storage, slot.field)
            for slot in slots
        )

        def read(row: Mapping[Any, Any]) -> Record:
            record = {name: row[name] for name in system}
            for name, from_storage, fdef in plan:
                record[name] = row[name] if from_storage is None else from_storage(fdef, row)
            return record

        return read
