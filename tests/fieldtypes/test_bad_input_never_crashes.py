"""Any JSON a client sends gets a value or a FieldValueError with a reason — never a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from metacrm.fieldtypes import FieldTypeRegistry, FieldValueError
from metacrm.metadata.model import FieldDef

MakeField = Callable[[dict[str, Any]], FieldDef]

FIELDS: list[dict[str, Any]] = [
    {"type": "text", "max_length": 10},
    {"type": "textarea"},
    {"type": "email"},
    {"type": "phone", "default_region": "RU"},
    {"type": "url"},
    {"type": "integer", "min": 0, "max": 100},
    {"type": "decimal", "precision": 6, "scale": 2, "min": "-1"},
    {"type": "percent"},
    {"type": "money", "currency": "USD", "currencies": ["USD", "EUR"]},
    {"type": "boolean"},
    {"type": "date"},
    {"type": "datetime"},
    {"type": "picklist", "choices": [{"value": "a"}, {"value": "b"}]},
    {"type": "multi_picklist", "choices": [{"value": "a"}, {"value": "b"}]},
    {"type": "reference", "entity": "company"},
    {"type": "regarding", "entities": ["company", "deal"]},
    {"type": "user"},
    {"type": "state", "pipeline": "sales"},
    {"type": "auto_number"},
    {"type": "json"},
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            " ",
            "1e999999",
            "-0",
            "NaN",
            "2024-02-30",
            "+7",
            "http://",
            "USD",
            "a",
            "2024-01-01T00:00:00Z",
            "0190f5a8-1c2b-7d3e-8f40-123456789abc",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["amount", "currency", "x"]), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_normalize_answers_every_json_value(
    registry: FieldTypeRegistry, make_field: MakeField, value: Any
) -> None:
    for doc in FIELDS:
        fdef = make_field(doc)
        field_type = registry.get(fdef.type)
        if value is None:
            continue
        try:
            normalised = field_type.normalize(fdef, value)
        except FieldValueError as exc:
            assert str(exc)
            continue
        if normalised is not None:
            # a normalised value is stable and has a JSON form
            assert field_type.normalize(fdef, normalised) == normalised
            field_type.to_json(fdef, normalised)
        try:
            registry.coerce(fdef, value)
        except ValueError as exc:
            assert str(exc)
