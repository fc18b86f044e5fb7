"""The port through which the compiler learns about field types without importing them.

Field types live in a higher layer (they know SQLAlchemy and marshmallow). The compiler only
needs to know whether a type exists, which criteria operators it supports, and whether a
field's type-specific options and default are acceptable; the field type registry implements
this protocol and is passed in by whoever compiles (the composition root, tests).
"""

from __future__ import annotations

from typing import Any, Protocol

from metacrm.metadata.model import FieldDef


class FieldTypeCatalog(Protocol):
    def has_type(self, type_name: str) -> bool:
        """True when a field type of this name is registered."""
        ...

    def operators(self, type_name: str) -> frozenset[str]:
        """The criteria operators fields of this type support."""
        ...

    def option_errors(self, field: FieldDef) -> list[tuple[str, str]]:
        """Problems with the field's type-specific options: (option name, reason) pairs."""
        ...

    def coerce(self, field: FieldDef, value: Any) -> Any:
        """Turn a JSON value into the field's Python value; raise ValueError with a reason."""
        ...
