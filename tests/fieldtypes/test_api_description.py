"""What the API promises about values: JSON Schemas and marshmallow fields match the types.

For each type a normalised value's JSON form must validate against the type's advertised
schema, and loading that JSON through the marshmallow field must give the value back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import jsonschema
import marshmallow
import pytest

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.fieldtypes.money import Money
from metacrm.fieldtypes.regarding import RecordLink
from metacrm.metadata.model import FieldDef

MakeField = Callable[[dict[str, Any]], FieldDef]
CHOICES = [{"value": "hot"}, {"value": "cold"}]

SAMPLES: list[tuple[dict[str, Any], Any]] = [
    ({"type": "text", "max_length": 20}, "Привет, мир"),
    ({"type": "textarea"}, "line 1\nline 2"),
    ({"type": "email"}, "ivan@example.com"),
    ({"type": "phone"}, "+79123456789"),
    ({"type": "url"}, "https://example.com/a?b=c"),
    ({"type": "integer", "min": 0}, 42),
    ({"type": "decimal", "precision": 10, "scale": 3}, Decimal("-12.500")),
    ({"type": "percent"}, Decimal("12.50")),
    ({"type": "money", "currency": "USD"}, Money(Decimal("99.90"), "USD")),
    ({"type": "money", "currencies": ["USD", "EUR"]}, Money(Decimal("5.00"), "EUR")),
    ({"type": "boolean"}, False),
    ({"type": "date"}, date(2024, 2, 29)),
    ({"type": "datetime"}, datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=UTC)),
    ({"type": "picklist", "choices": CHOICES}, "cold"),
    ({"type": "multi_picklist", "choices": CHOICES}, ("hot", "cold")),
    ({"type": "reference", "entity": "company"}, "0190f5a8-1c2b-7d3e-8f40-123456789abc"),
    ({"type": "regarding", "entities": ["lead", "deal"]},
     RecordLink("deal", "0190f5a8-1c2b-7d3e-8f40-123456789abc")),
    ({"type": "user"}, "user-1"),
    ({"type": "state", "pipeline": "sales"}, "won"),
    ({"type": "json"}, {"nested": [1, "two", None]}),
]


@pytest.mark.parametrize(("doc", "value"), SAMPLES, ids=lambda v: str(v)[:30])
def test_json_value_fits_the_schema_and_loads_back(
    registry: FieldTypeRegistry, make_field: MakeField, doc: dict[str, Any], value: Any
) -> None:
    fdef = make_field(doc)
    field_type = registry.get(fdef.type)
    as_json = field_type.to_json(fdef, value)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **field_type.value_schema(fdef),
    }
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(
        as_json,
        schema,
        cls=jsonschema.Draft202012Validator,
        format_checker=jsonschema.FormatChecker(),
    )

    ma_schema = marshmallow.Schema.from_dict({"v": field_type.marshmallow_field(fdef)})()
    assert ma_schema.load({"v": as_json}) == {"v": value}
    assert ma_schema.dump({"v": value}) == {"v": as_json}


def test_marshmallow_reports_the_types_reason(
    registry: FieldTypeRegistry, make_field: MakeField
) -> None:
    fdef = make_field({"type": "phone"})
    schema = marshmallow.Schema.from_dict(
        {"phone": registry.get("phone").marshmallow_field(fdef)}
    )()
    with pytest.raises(marshmallow.ValidationError) as caught:
        schema.load({"phone": "+7 123"})
    assert caught.value.messages == {"phone": ["is not a valid phone number"]}
    assert schema.load({"phone": None}) == {"phone": None}


def test_auto_numbers_are_read_only_in_the_api(
    registry: FieldTypeRegistry, make_field: MakeField
) -> None:
    fdef = make_field({"type": "auto_number"})
    field_type = registry.get("auto_number")
    assert field_type.value_schema(fdef)["readOnly"] is True
    schema = marshmallow.Schema.from_dict({"number": field_type.marshmallow_field(fdef)})()
    assert schema.dump({"number": "000042"}) == {"number": "000042"}
    with pytest.raises(marshmallow.ValidationError):
        schema.load({"number": "000042"})


def test_every_builtin_type_is_registered(registry: FieldTypeRegistry) -> None:
    assert set(registry.names()) == {
        "text",
        "textarea",
        "email",
        "phone",
        "url",
        "integer",
        "decimal",
        "money",
        "percent",
        "boolean",
        "date",
        "datetime",
        "picklist",
        "multi_picklist",
        "reference",
        "regarding",
        "user",
        "state",
        "auto_number",
        "json",
        "file",
    }


@pytest.mark.parametrize(
    ("type_name", "operators"),
    [
        ("text", {"eq", "ne", "in", "not_in", "is_null", "contains", "starts_with"}),
        ("integer", {"eq", "ne", "in", "not_in", "is_null", "gt", "gte", "lt", "lte", "between"}),
        ("money", {"eq", "ne", "in", "not_in", "is_null", "gt", "gte", "lt", "lte", "between"}),
        ("datetime", {"eq", "ne", "in", "not_in", "is_null", "gt", "gte", "lt", "lte", "between"}),
        ("boolean", {"eq", "ne", "is_null"}),
        ("picklist", {"eq", "ne", "in", "not_in", "is_null"}),
        ("reference", {"eq", "ne", "in", "not_in", "is_null"}),
        ("multi_picklist", {"contains", "is_null"}),
        ("json", {"is_null"}),
    ],
)
def test_operators_per_type(
    registry: FieldTypeRegistry, type_name: str, operators: set[str]
) -> None:
    assert registry.operators(type_name) == operators
