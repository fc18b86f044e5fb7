"""Fixtures for criteria tests: an entity built from JSON literals, its table, the registry."""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest
import sqlalchemy as sa

from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.fieldtypes.sqltypes import UTCDateTime
from metacrm.metadata.model import Choice, EntityDef, FieldDef

COMMON_KEYS = frozenset(
    {"name", "type", "label", "required", "unique", "indexed", "read_only", "default", "help"}
)

DEAL_FIELDS: list[dict[str, Any]] = [
    {"name": "title", "type": "text", "max_length": 60},
    {"name": "qty", "type": "integer"},
    {"name": "price", "type": "decimal", "precision": 10, "scale": 2},
    {
        "name": "amount",
        "type": "money",
        "precision": 12,
        "scale": 2,
        "currency": "USD",
        "currencies": ["USD", "EUR"],
    },
    {"name": "active", "type": "boolean"},
    {"name": "due", "type": "date"},
    {"name": "seen_at", "type": "datetime"},
    {
        "name": "stage",
        "type": "picklist",
        "choices": [{"value": "new"}, {"value": "won"}, {"value": "lost"}],
    },
    {
        "name": "tags",
        "type": "multi_picklist",
        "choices": [{"value": "vip"}, {"value": "50%"}, {"value": "a_b"}, {"value": "ж"}],
    },
    {"name": "assignee", "type": "user"},
    {"name": "extra", "type": "json"},
]


def field_from_json(doc: dict[str, Any], registry: FieldTypeRegistry) -> FieldDef:
    """A FieldDef as the compiler makes it: type-specific keys become `options`."""
    options = {k: v for k, v in doc.items() if k not in COMMON_KEYS and k != "choices"}
    return FieldDef(
        name=doc["name"],
        type=doc["type"],
        label=MappingProxyType({"en": doc["name"]}),
        options=MappingProxyType(options),
        choices=tuple(
            Choice(c["value"], MappingProxyType({"en": c["value"]})) for c in doc.get("choices", ())
        ),
        operators=registry.operators(doc["type"]),
    )


def entity_from_json(
    name: str, fields: list[dict[str, Any]], registry: FieldTypeRegistry
) -> EntityDef:
    label = MappingProxyType({"en": name})
    return EntityDef(
        name=name,
        label=label,
        plural_label=label,
        table=f"crm_{name}",
        fields=tuple(field_from_json(doc, registry) for doc in fields),
    )


def record_table(entity: EntityDef, registry: FieldTypeRegistry) -> sa.Table:
    """The entity's table: system columns, then each field's columns (no foreign keys)."""
    columns: list[sa.Column[Any]] = [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", UTCDateTime()),
        sa.Column("created_by", sa.String(64)),
        sa.Column("updated_at", UTCDateTime()),
        sa.Column("updated_by", sa.String(64)),
        sa.Column("owner", sa.String(64)),
    ]
    for fdef in entity.fields:
        columns += [
            sa.Column(spec.name, spec.type) for spec in registry.get(fdef.type).columns(fdef)
        ]
    return sa.Table(entity.table, sa.MetaData(), *columns)


@pytest.fixture(scope="session")
def registry() -> FieldTypeRegistry:
    return default_registry()


@pytest.fixture(scope="session")
def deal(registry: FieldTypeRegistry) -> EntityDef:
    return entity_from_json("deal", DEAL_FIELDS, registry)


@pytest.fixture
def deal_table(
    engine: sa.Engine, deal: EntityDef, registry: FieldTypeRegistry
) -> Iterator[sa.Table]:
    table = record_table(deal, registry)
    table.create(engine)
    yield table
