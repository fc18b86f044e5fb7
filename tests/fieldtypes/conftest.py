"""Fixtures for field type tests: fields built from the JSON a metadata author writes."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest

from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.metadata.model import Choice, FieldDef

COMMON_KEYS = frozenset(
    {"name", "type", "label", "required", "unique", "indexed", "read_only", "default", "help"}
)

MakeField = Callable[[dict[str, Any]], FieldDef]


def field_from_json(doc: dict[str, Any], registry: FieldTypeRegistry) -> FieldDef:
    """A FieldDef as the compiler makes it: type-specific keys become `options`."""
    options = {k: v for k, v in doc.items() if k not in COMMON_KEYS and k != "choices"}
    choices = tuple(
        Choice(c["value"], MappingProxyType(c.get("label", {"en": c["value"]})))
        for c in doc.get("choices", ())
    )
    return FieldDef(
        name=doc.get("name", "f"),
        type=doc["type"],
        label=MappingProxyType(doc.get("label", {"en": "F", "ru": "П"})),
        required=doc.get("required", False),
        default=doc.get("default"),
        options=MappingProxyType(options),
        choices=choices,
        operators=registry.operators(doc["type"]),
    )


@pytest.fixture(scope="session")
def registry() -> FieldTypeRegistry:
    return default_registry()


@pytest.fixture(scope="session")
def make_field(registry: FieldTypeRegistry) -> MakeField:
    return lambda doc: field_from_json(doc, registry)
