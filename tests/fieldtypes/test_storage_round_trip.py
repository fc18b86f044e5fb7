"""Values survive a real table on the test database (SQLite or PostgreSQL) unchanged.

Each case builds a table from the field's `columns()`, inserts `to_storage(value)`, reads
the row back and checks `from_storage(row)` equals the normalised value, exactly (no float
rounding, no lost time zone, no lost microseconds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.fieldtypes.sqltypes import ExactDecimal, UTCDateTime
from metacrm.metadata.model import FieldDef

MakeField = Callable[[dict[str, Any]], FieldDef]
COMPANY_ID = "0190f5a8-1c2b-7d3e-8f40-123456789abc"
CHOICES = [{"value": "hot"}, {"value": "50%"}, {"value": "a_b"}]

CASES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"type": "text", "max_length": 40}, ["Жёлтый 50%_off", "x" * 40, "ǅ İ Σ ß"]),
    ({"type": "textarea"}, ["line 1\n  line 2\n", "я" * 20000]),
    ({"type": "email"}, ["Ivan@Example.com"]),
    ({"type": "phone", "default_region": "RU"}, ["8 912 345-67-89"]),
    ({"type": "url"}, ["https://Example.com/путь?q=1"]),
    ({"type": "integer"}, [0, 2**63 - 1, -(2**63)]),
    (
        {"type": "decimal", "precision": 18, "scale": 2},
        ["9999999999999999.99", "-9999999999999999.99", "0.01", "-0.01"],
    ),
    ({"type": "decimal", "precision": 18, "scale": 0}, ["999999999999999999"]),
    ({"type": "decimal", "precision": 18, "scale": 18}, ["0.123456789012345678"]),
    ({"type": "percent", "scale": 3}, ["12.345", "-100"]),
    (
        {"type": "money", "currency": "USD"},
        [{"amount": "1234567890123456.78", "currency": "EUR"}, "-0.5"],
    ),
    ({"type": "boolean"}, [True, False]),
    ({"type": "date"}, ["0001-01-01", "9999-12-31", "2024-02-29"]),
    (
        {"type": "datetime"},
        [
            "2024-05-01T12:30:00.123456+03:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        ],
    ),
    ({"type": "picklist", "choices": CHOICES}, ["50%"]),
    ({"type": "multi_picklist", "choices": CHOICES}, [["a_b", "hot"], ["50%"]]),
    ({"type": "reference", "entity": "company"}, [COMPANY_ID]),
    ({"type": "regarding", "entities": ["company", "deal"]},
     [{"entity": "deal", "id": COMPANY_ID}, f"company:{COMPANY_ID}"]),
    ({"type": "user"}, ["user-Ж"]),
    ({"type": "state", "pipeline": "sales"}, ["qualified"]),
    ({"type": "auto_number"}, ["INV-000001"]),
    ({"type": "json"}, [{"a": [1, 2.5, None, "ж"], "b": {"c": True}}, [1, 2], "text", 0]),
]


@pytest.fixture
def company_table(engine: sa.Engine) -> sa.Table:
    metadata = sa.MetaData()
    table = sa.Table("crm_company", metadata, sa.Column("id", sa.String(36), primary_key=True))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert().values(id=COMPANY_ID))
    return table


@pytest.mark.parametrize(("doc", "inputs"), CASES, ids=lambda v: str(v)[:40])
def test_value_round_trips_through_the_database(
    engine: sa.Engine,
    company_table: sa.Table,
    registry: FieldTypeRegistry,
    make_field: MakeField,
    doc: dict[str, Any],
    inputs: list[Any],
) -> None:
    fdef = make_field({"name": "value", **doc})
    field_type = registry.get(fdef.type)
    columns = []
    for spec in field_type.columns(fdef):
        extra = (
            [sa.ForeignKey(spec.foreign_key, ondelete=spec.ondelete)] if spec.foreign_key else []
        )
        columns.append(sa.Column(spec.name, spec.type, *extra))
    table = sa.Table(
        "rt", company_table.metadata, sa.Column("id", sa.Integer, primary_key=True), *columns
    )
    table.create(engine)
    values = [field_type.normalize(fdef, given) for given in inputs] + [None]
    with engine.begin() as conn:
        for row_id, value in enumerate(values):
            stored = (
                field_type.to_storage(fdef, value)
                if value is not None
                else {c.name: None for c in columns}
            )
            conn.execute(table.insert().values(id=row_id, **stored))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    read = [field_type.from_storage(fdef, dict(row)) for row in rows]
    assert read == values
    for got, expected in zip(read, values, strict=True):
        assert type(got) is type(expected)
        if isinstance(got, datetime):
            assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


@pytest.fixture
def numbers(engine: sa.Engine) -> sa.Table:
    table = sa.Table(
        "numbers",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", ExactDecimal(18, 2)),
        sa.Column("at", UTCDateTime()),
    )
    table.create(engine)
    base = datetime(2024, 5, 1, tzinfo=UTC)
    amounts = [
        "-9999999999999999.99",
        "-0.01",
        "0.00",
        "0.01",
        "0.10",
        "1.00",
        "9999999999999999.99",
    ]
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": i, "amount": Decimal(a), "at": base + timedelta(microseconds=i)}
                for i, a in enumerate(amounts)
            ],
        )
    return table


def test_exact_decimals_compare_and_sort_exactly(engine: sa.Engine, numbers: sa.Table) -> None:
    with engine.connect() as conn:
        above = (
            conn.execute(
                sa.select(numbers.c.amount)
                .where(numbers.c.amount > Decimal("0.01"))
                .order_by(numbers.c.amount.desc())
            )
            .scalars()
            .all()
        )
        between = (
            conn.execute(
                sa.select(numbers.c.id)
                .where(numbers.c.amount.between(Decimal("-0.01"), Decimal("0.01")))
                .order_by(numbers.c.id)
            )
            .scalars()
            .all()
        )
    assert above == [Decimal("9999999999999999.99"), Decimal("1.00"), Decimal("0.10")]
    assert between == [1, 2, 3]


def test_datetimes_compare_in_utc_whatever_offset_is_bound(
    engine: sa.Engine, numbers: sa.Table
) -> None:
    plus_three = timezone(timedelta(hours=3))
    threshold = datetime(2024, 5, 1, 3, 0, 0, 3, tzinfo=plus_three)  # = 00:00:00.000003 UTC
    with engine.connect() as conn:
        later = (
            conn.execute(
                sa.select(numbers.c.id).where(numbers.c.at >= threshold).order_by(numbers.c.id)
            )
            .scalars()
            .all()
        )
    assert later == [3, 4, 5, 6]


def test_naive_datetimes_are_refused(engine: sa.Engine, numbers: sa.Table) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive"), engine.begin() as conn:
        conn.execute(numbers.insert().values(id=99, at=datetime(2024, 1, 1)))


def test_types_are_cacheable() -> None:
    assert ExactDecimal.cache_ok is True and UTCDateTime.cache_ok is True
    assert repr(ExactDecimal(10, 2)) == "ExactDecimal(10, 2)"
