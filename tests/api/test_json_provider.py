"""JSON responses through orjson say what Flask's own provider would have said."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from hypothesis import given
from hypothesis import strategies as st

from metacrm.api.json_provider import OrjsonProvider

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@dataclass
class Point:
    x: int
    label: str


def apps() -> tuple[Flask, Flask]:
    fast, plain = Flask("fast"), Flask("plain")
    fast.json = OrjsonProvider(fast)
    plain.json = DefaultJSONProvider(plain)
    return fast, plain


def bodies(value: Any) -> tuple[bytes, bytes]:
    fast, plain = apps()
    with fast.app_context():
        fast_body = jsonify(value).get_data()
    with plain.app_context():
        plain_body = jsonify(value).get_data()
    return fast_body, plain_body


@given(JSON_VALUES)
def test_any_json_value_reads_back_the_same(value: Any) -> None:
    fast_body, plain_body = bodies(value)
    assert json.loads(fast_body) == json.loads(plain_body)
    assert fast_body.endswith(b"\n")


def test_keys_are_sorted_compact_and_text_is_utf8() -> None:
    fast_body, _ = bodies({"b": 1, "a": {"z": [1, 2], "y": "Сделка ✓"}})
    assert fast_body == '{"a":{"y":"Сделка ✓","z":[1,2]},"b":1}\n'.encode()


def test_types_json_lacks_are_converted_as_flask_converts_them() -> None:
    value = {"amount": Decimal("12.50"), "on": date(2024, 5, 31),
             "at": datetime(2024, 5, 31, 14, 30, tzinfo=UTC),
             "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
             "point": Point(1, "p")}
    fast_body, plain_body = bodies(value)
    assert json.loads(fast_body) == json.loads(plain_body) == {
        "amount": "12.50", "on": "Fri, 31 May 2024 00:00:00 GMT",
        "at": "Fri, 31 May 2024 14:30:00 GMT",
        "id": "12345678-1234-5678-1234-567812345678", "point": {"label": "p", "x": 1}}
