"""The field type registry: built-in types and extension packs' types, registered alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from metacrm.fieldtypes.base import FieldType, FieldValueError
from metacrm.metadata.model import FieldDef


class FieldTypeRegistry:
    """Maps type names to `FieldType` instances; implements the metadata `FieldTypeCatalog`.

    Registration closes (`close()`) when the application starts serving, so a type cannot
    appear half-way through a request.
    """

    def __init__(self) -> None:
        self._types: dict[str, FieldType] = {}
        self._closed = False

    def register(self, field_type: FieldType) -> FieldType:
        if self._closed:
            raise RuntimeError("field type registration is closed")
        if field_type.name in self._types:
            raise ValueError(f"field type {field_type.name!r} is already registered")
        self._types[field_type.name] = field_type
        return field_type

    def close(self) -> None:
        self._closed = True

    def add_extension(self, field_type: FieldType) -> None:
        """Add an extension pack's type while serving (the pack host adds a pack's
        contributions as a unit, after checking for conflicts); never replaces a type."""
        if field_type.name in self._types:
            raise ValueError(f"field type {field_type.name!r} is already registered")
        # copy on write: requests reading the registry meanwhile never see it change size
        self._types = {**self._types, field_type.name: field_type}

    def remove_extension(self, type_name: str) -> None:
        """Remove a type `add_extension` added (its pack was uninstalled or reloaded)."""
        self._types = {name: t for name, t in self._types.items() if name != type_name}

    def get(self, type_name: str) -> FieldType:
        try:
            return self._types[type_name]
        except KeyError:
            raise KeyError(f"unknown field type {type_name!r}") from None

    def __iter__(self) -> Iterator[FieldType]:
        return iter(self._types.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    # --- FieldTypeCatalog --------------------------------------------------------------
    def has_type(self, type_name: str) -> bool:
        return type_name in self._types

    def operators(self, type_name: str) -> frozenset[str]:
        return self._types[type_name].operators

    def option_errors(self, field: FieldDef) -> list[tuple[str, str]]:
        field_type = self._types[field.type]
        errors = [
            (name, f"option {name!r} does not apply to fields of type {field.type!r}")
            for name in field.options
            if name not in field_type.option_names
        ]
        return errors + field_type.option_errors(field)

    def coerce(self, field: FieldDef, value: Any) -> Any:
        try:
            return self._types[field.type].coerce_operand(field, value)
        except FieldValueError as exc:
            raise ValueError(str(exc)) from exc


def default_registry() -> FieldTypeRegistry:
    """A registry holding every built-in field type."""
    from metacrm.fieldtypes.builtin import register_builtin_types

    registry = FieldTypeRegistry()
    register_builtin_types(registry)
    return registry
