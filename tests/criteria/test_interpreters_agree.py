"""Property: for any records and any criteria tree, SQL and Python select the same records.

Hypothesis draws records of an entity with fields of many types (empty values, extreme
numbers and dates, Cyrillic and other case-tricky text, '%' and '_' in text) and criteria
trees using every operator each type supports, variables included, nested with and/or/not.
The records go into a real table on the test database; the ids `compile_sql` selects must be
exactly the ids for which `compile_predicate` is true.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metacrm.criteria.context import CriteriaContext
from metacrm.criteria.predicate import compile_predicate
from metacrm.criteria.sql import compile_sql
from metacrm.criteria.tree import criteria_field
from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.fieldtypes.money import Money
from metacrm.metadata.model import EntityDef, FieldDef

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
USERS = ("u-1", "u-2", "u-3", "Ж-4")
ALPHABET = "aAbBzZ жЖёЁуУ%_/\\İıΣσςßẞǅǆ1"
TEXT_POOL = ("ab", "AB", "жук", "ЖУК", "50%", "5_0", "a%b", "ΟΔΟΣ", "οδος", "İi", "ß", "ẞ", "a/b")
# needles that tell apart the ways of folding case (final sigma, dotted I) and of escaping
NEEDLES = ("σ", "ος", "οσ", "ii", "i̇", "ß", "жу", "%", "_", "/", "\\", "a%", "5_", "A")
MAX_PRICE = Decimal("99999999.99")
MAX_AMOUNT = Decimal("9999999999.99")

# the fields the trees may use: entity fields plus system columns
CRITERIA_FIELDS = (
    "id",
    "created_at",
    "owner",
    "title",
    "qty",
    "price",
    "amount",
    "active",
    "due",
    "seen_at",
    "stage",
    "tags",
    "assignee",
    "extra",
)

LEAF_FIELDS = (*CRITERIA_FIELDS, "title", "title")  # text matching has the most pitfalls

texts = st.one_of(st.sampled_from(TEXT_POOL), st.text(ALPHABET, max_size=8))
integers = st.one_of(st.integers(-3, 3), st.sampled_from([-(2**63), 2**63 - 1]))
prices = st.one_of(
    st.sampled_from([Decimal("0.00"), Decimal("1.50"), Decimal("-1.50"), MAX_PRICE, -MAX_PRICE]),
    st.decimals(min_value=-MAX_PRICE, max_value=MAX_PRICE, places=2),
)
amounts = st.one_of(
    st.sampled_from([Decimal("0.00"), Decimal("99.99"), MAX_AMOUNT, -MAX_AMOUNT]),
    st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=2),
)
dates = st.one_of(
    st.dates(NOW.date() - timedelta(days=60), NOW.date() + timedelta(days=60)),
    st.sampled_from([date.min, date.max, NOW.date()]),
)
moments = st.one_of(
    st.datetimes(datetime(2024, 5, 1), datetime(2024, 7, 30), timezones=st.just(UTC)),
    st.sampled_from(
        [
            datetime.min.replace(tzinfo=UTC),
            datetime.max.replace(tzinfo=UTC),
            NOW,
            datetime(2024, 6, 15, tzinfo=UTC),
        ]
    ),
)

RAW_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.sampled_from(["r0", "r1", "R1", "x"]),
    "created_at": moments,
    "owner": st.sampled_from(USERS),
    "title": texts,
    "qty": integers,
    "price": prices,
    "amount": st.builds(Money, amounts, st.sampled_from(["USD", "EUR"])),
    "active": st.booleans(),
    "due": dates,
    "seen_at": moments,
    "stage": st.sampled_from(["new", "won", "lost"]),
    "tags": st.sets(st.sampled_from(["vip", "50%", "a_b", "ж"]), min_size=1),
    "assignee": st.sampled_from(USERS),
    "extra": st.sampled_from([{"a": 1}, [1, "ж"], "x", 0, False, [], {}]),
}

offsets = st.integers(-40, 40) | st.sampled_from([-1_000_000, 1_000_000])
DATE_VARIABLES = st.one_of(
    st.sampled_from(["$now", "$today"]),
    st.builds(
        lambda unit, n: {"$today": {unit: n}}, st.sampled_from(["days", "weeks", "months"]), offsets
    ),
    st.builds(
        lambda unit, n: {"$now": {unit: n}},
        st.sampled_from(["minutes", "hours", "days", "months"]),
        offsets,
    ),
)


def entity_field(entity: EntityDef, name: str) -> FieldDef:
    fdef = criteria_field(entity, name)
    assert fdef is not None
    return fdef


def normalise(registry: FieldTypeRegistry, fdef: FieldDef, raw: Any) -> Any:
    return registry.get(fdef.type).normalize(fdef, raw)


def scalar_operands(registry: FieldTypeRegistry, fdef: FieldDef) -> st.SearchStrategy[Any]:
    """JSON operands for eq/gt/... : a value of the field in JSON form, or a variable."""
    field_type = registry.get(fdef.type)

    def as_json(raw: Any) -> Any:
        value = field_type.normalize(fdef, raw)
        return None if value is None else field_type.to_json(fdef, value)

    literals = RAW_VALUES[fdef.name].map(as_json).filter(lambda v: v is not None)
    if fdef.type == "money":
        literals = literals | amounts.map(str)
    if fdef.type == "user":
        return literals | st.just("$user")
    if fdef.type in ("date", "datetime"):
        return literals | DATE_VARIABLES
    return literals


def leaves(entity: EntityDef, registry: FieldTypeRegistry) -> st.SearchStrategy[Any]:
    @st.composite
    def leaf(draw: st.DrawFn) -> dict[str, Any]:
        fdef = entity_field(entity, draw(st.sampled_from(LEAF_FIELDS)))
        op = draw(st.sampled_from(sorted(registry.operators(fdef.type))))
        scalar = scalar_operands(registry, fdef)
        value: Any
        if op == "is_null":
            value = draw(st.booleans())
        elif op in ("contains", "starts_with"):
            value = draw(
                st.sampled_from(fdef.choice_values)
                if fdef.type == "multi_picklist"
                else st.sampled_from(NEEDLES) | texts | st.text(ALPHABET, max_size=2)
            )
        elif op in ("in", "not_in"):
            lists = st.lists(scalar, min_size=1, max_size=3)
            value = draw(lists | st.just("$team") if fdef.type == "user" else lists)
        elif op == "between":
            value = draw(st.lists(scalar, min_size=2, max_size=2))
        else:
            value = draw(scalar)
        return {"field": fdef.name, "op": op, "value": value}

    return leaf()


def trees(entity: EntityDef, registry: FieldTypeRegistry) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves(entity, registry),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda items: {"and": items}),
            st.lists(children, min_size=1, max_size=3).map(lambda items: {"or": items}),
            children.map(lambda item: {"not": item}),
        ),
        max_leaves=6,
    )


def records(entity: EntityDef, registry: FieldTypeRegistry) -> st.SearchStrategy[Any]:
    """Lists of records (field name -> normalised value); any field may be empty."""

    @st.composite
    def record(draw: st.DrawFn) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in CRITERIA_FIELDS:
            if name == "id":
                continue
            fdef = entity_field(entity, name)
            raw = draw(st.none() | RAW_VALUES[name]) if name != "created_at" else draw(moments)
            values[name] = None if raw is None else normalise(registry, fdef, raw)
        return values

    return st.lists(record(), max_size=6)


contexts = st.builds(
    CriteriaContext,
    user_id=st.none() | st.sampled_from(USERS),
    team_ids=st.lists(st.sampled_from(USERS), max_size=3).map(tuple),
    now=st.integers(-3000, 3000).map(lambda minutes: NOW + timedelta(minutes=minutes)),
)


def row_for(
    entity: EntityDef, registry: FieldTypeRegistry, values: dict[str, Any]
) -> dict[str, Any]:
    row = {name: values[name] for name in ("id", "created_at", "owner")}
    for fdef in entity.fields:
        field_type = registry.get(fdef.type)
        value = values[fdef.name]
        row.update(
            field_type.to_storage(fdef, value)
            if value is not None
            else {spec.name: None for spec in field_type.columns(fdef)}
        )
    return row


def read_back(entity: EntityDef, registry: FieldTypeRegistry, row: Any) -> dict[str, Any]:
    values = {name: row[name] for name in ("id", "created_at", "owner")}
    for fdef in entity.fields:
        values[fdef.name] = registry.get(fdef.type).from_storage(fdef, row)
    return values


def test_sql_and_python_select_the_same_records(
    engine: sa.Engine, deal: EntityDef, deal_table: sa.Table, registry: FieldTypeRegistry
) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(rows=records(deal, registry), tree=trees(deal, registry), context=contexts)
    def check(rows: list[dict[str, Any]], tree: Any, context: CriteriaContext) -> None:
        written = [{"id": f"r{i}", **values} for i, values in enumerate(rows)]
        with engine.begin() as conn:
            conn.execute(deal_table.delete())
            if written:
                conn.execute(deal_table.insert(), [row_for(deal, registry, r) for r in written])
        with engine.connect() as conn:
            stored = conn.execute(sa.select(deal_table)).mappings().all()
            selected = set(
                conn.execute(
                    sa.select(deal_table.c.id).where(
                        compile_sql(tree, deal, deal_table, registry, context)
                    )
                ).scalars()
            )
        read = [read_back(deal, registry, row) for row in stored]
        assert sorted(read, key=lambda r: r["id"]) == written  # normalised values round-trip
        predicate = compile_predicate(tree, deal, registry, context)
        assert selected == {r["id"] for r in read if predicate(r)}

    check()
