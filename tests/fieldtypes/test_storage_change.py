"""How a field's storage must change when an admin edits its definition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from metacrm.fieldtypes import FieldTypeRegistry, StorageChange
from metacrm.metadata.model import FieldDef

MakeField = Callable[[dict[str, Any]], FieldDef]

NONE, WIDEN, REPLACE = StorageChange.NONE, StorageChange.WIDEN, StorageChange.REPLACE


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"type": "text"}, {"type": "text", "max_length": 255}, NONE),
        ({"type": "text", "max_length": 100}, {"type": "text", "max_length": 500}, WIDEN),
        ({"type": "text", "max_length": 500}, {"type": "text", "max_length": 100}, REPLACE),
        ({"type": "textarea", "max_length": 100}, {"type": "textarea"}, WIDEN),
        ({"type": "textarea"}, {"type": "textarea", "max_length": 100}, REPLACE),
        ({"type": "decimal", "precision": 10}, {"type": "decimal", "precision": 12}, WIDEN),
        ({"type": "decimal", "precision": 12}, {"type": "decimal", "precision": 10}, REPLACE),
        ({"type": "decimal", "scale": 2}, {"type": "decimal", "scale": 4}, REPLACE),
        ({"type": "decimal", "min": 0}, {"type": "decimal", "max": 10}, NONE),
        ({"type": "money", "precision": 10}, {"type": "money", "precision": 14}, WIDEN),
        ({"type": "money", "currency": "USD"}, {"type": "money", "currency": "EUR"}, NONE),
        ({"type": "money", "scale": 2}, {"type": "money", "scale": 0}, REPLACE),
        ({"type": "percent", "scale": 2}, {"type": "percent", "scale": 3}, REPLACE),
        ({"type": "integer", "max": 5}, {"type": "integer", "max": 50}, NONE),
        (
            {"type": "picklist", "choices": [{"value": "a"}]},
            {"type": "picklist", "choices": [{"value": "a"}, {"value": "b"}]},
            NONE,
        ),
        (
            {"type": "multi_picklist", "choices": [{"value": "a"}]},
            {"type": "multi_picklist", "choices": [{"value": "b"}]},
            NONE,
        ),
        (
            {"type": "reference", "entity": "company"},
            {"type": "reference", "entity": "company"},
            NONE,
        ),
        (
            {"type": "reference", "entity": "company"},
            {"type": "reference", "entity": "person"},
            REPLACE,
        ),
        (
            {"type": "reference", "entity": "company"},
            {"type": "reference", "entity": "company", "on_delete": "cascade"},
            REPLACE,
        ),
        ({"type": "auto_number", "digits": 4}, {"type": "auto_number", "digits": 8}, NONE),
        ({"type": "datetime"}, {"type": "datetime"}, NONE),
        ({"type": "phone"}, {"type": "phone", "default_region": "RU"}, NONE),
    ],
)
def test_storage_change(
    registry: FieldTypeRegistry,
    make_field: MakeField,
    old: dict[str, Any],
    new: dict[str, Any],
    expected: StorageChange,
) -> None:
    old_field, new_field = make_field(old), make_field(new)
    assert registry.get(old["type"]).storage_change(old_field, new_field) is expected
