"""Field types: a registry of what a field can be.

Each type supplies its columns, the JSON Schema of its API value, its marshmallow field, the
criteria operators it supports, validation/normalisation and default handling. Built-in types
register exactly as an extension pack's types do.
"""

from metacrm.fieldtypes.base import ColumnSpec, FieldType, FieldValueError, StorageChange
from metacrm.fieldtypes.registry import FieldTypeRegistry, default_registry

__all__ = [
    "ColumnSpec",
    "FieldType",
    "FieldTypeRegistry",
    "FieldValueError",
    "StorageChange",
    "default_registry",
]
