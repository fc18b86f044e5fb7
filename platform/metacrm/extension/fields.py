"""Field types from packs, described at a high level and adapted by the core.

A `FieldTypeSpec` names the type, picks how its values are stored from the built-in kinds,
gives the JSON Schema of its values (used by the API, OpenAPI and forms), and optionally a
normaliser (JSON value in -> canonical JSON value out; raise ValueError with a message for
the user), a display function (value -> text on screens) and a form widget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

StorageKind = Literal["text", "textarea", "integer", "decimal", "boolean", "date",
                      "datetime", "json"]
"""Built-in field types a pack's type may store its values as."""

Widget = Literal["text", "textarea", "integer", "decimal", "date", "email", "phone", "url"]
"""Form inputs a pack's type may use (each posts its value as text, which the type's
normaliser reads)."""


@dataclass(frozen=True)
class FieldTypeSpec:
    """A field type contributed by a pack (`ctx.register_field_type`)."""

    name: str
    """The `type` metadata fields name; `^[a-z][a-z0-9_]{1,40}$`, unique among all types."""
    storage: StorageKind
    value_schema: Mapping[str, Any]
    """JSON Schema (2020-12) of one JSON value; checked on every write."""
    normalize: Callable[[Any], Any] | None = None
    display: Callable[[Any], str] | None = None
    widget: Widget | None = None
    """Default: the storage kind's own input when it is one of `Widget`, else `text`."""
    label: Mapping[str, str] = field(default_factory=dict)


__all__ = ["FieldTypeSpec", "StorageKind", "Widget"]
