"""What a filter means to a user, checked on both interpreters against the same records.

Each case lists the records a condition must select; the SQL interpreter (on the test
database) and the Python predicate must both select exactly those.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from metacrm.criteria.context import CriteriaContext
from metacrm.criteria.predicate import compile_predicate
from metacrm.criteria.sql import compile_sql
from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.model import EntityDef

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)

RECORDS: dict[str, dict[str, Any]] = {
    "a": {
        "title": "ЖУК и Ко",
        "qty": 5,
        "price": "10.50",
        "amount": {"amount": "100", "currency": "EUR"},
        "active": True,
        "due": "2024-06-10",
        "seen_at": "2024-06-15T11:30:00Z",
        "stage": "won",
        "tags": ["vip", "ж"],
        "assignee": "u-1",
        "owner": "u-1",
        "extra": {"k": 1},
    },
    "b": {
        "title": "Sale 50% off",
        "qty": 0,
        "price": "-1",
        "amount": "99.99",
        "active": False,
        "due": "2024-06-20",
        "seen_at": "2024-06-14T12:00:00+03:00",
        "stage": "new",
        "tags": ["50%"],
        "assignee": "u-2",
        "owner": "u-2",
    },
    "c": {"title": "a_b test", "qty": -3, "tags": ["a_b"], "owner": "u-3"},
    "d": {"title": "ab test", "stage": "lost"},
    "greek": {"title": "ΟΔΟΣ"},
    "turkish": {"title": "İi"},
    "empty": {},
}


def normalised(
    entity: EntityDef, registry: FieldTypeRegistry, doc: dict[str, Any], record_id: str
) -> dict[str, Any]:
    values: dict[str, Any] = {"id": record_id, "owner": doc.get("owner")}
    for fdef in entity.fields:
        raw = doc.get(fdef.name)
        values[fdef.name] = None if raw is None else registry.get(fdef.type).normalize(fdef, raw)
    return values


@pytest.fixture
def select(
    engine: sa.Engine, deal: EntityDef, deal_table: sa.Table, registry: FieldTypeRegistry
) -> Any:
    records = {rid: normalised(deal, registry, doc, rid) for rid, doc in RECORDS.items()}
    with engine.begin() as conn:
        for values in records.values():
            row: dict[str, Any] = {"id": values["id"], "owner": values["owner"]}
            for fdef in deal.fields:
                value = values[fdef.name]
                field_type = registry.get(fdef.type)
                row.update(
                    field_type.to_storage(fdef, value)
                    if value is not None
                    else {c.name: None for c in field_type.columns(fdef)}
                )
            conn.execute(deal_table.insert().values(**row))

    def run(tree: Any, context: CriteriaContext | None = None) -> set[str]:
        context = context or CriteriaContext(user_id="u-1", team_ids=("u-2", "u-3"), now=NOW)
        where = compile_sql(tree, deal, deal_table, registry, context)
        with engine.connect() as conn:
            in_sql = set(conn.execute(sa.select(deal_table.c.id).where(where)).scalars())
        predicate = compile_predicate(tree, deal, registry, context)
        in_python = {rid for rid, values in records.items() if predicate(values)}
        assert in_sql == in_python, f"SQL {sorted(in_sql)} != Python {sorted(in_python)}"
        return in_sql

    return run


def leaf(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        # empty values: comparisons false, ne/not_in true, `not` is the exact complement
        (leaf("qty", "gt", -10), {"a", "b", "c"}),
        (leaf("qty", "ne", 5), {"b", "c", "d", "empty", "greek", "turkish"}),
        ({"not": leaf("qty", "eq", 5)}, {"b", "c", "d", "empty", "greek", "turkish"}),
        ({"not": leaf("qty", "gt", -10)}, {"d", "empty", "greek", "turkish"}),
        (leaf("stage", "not_in", ["won", "new"]), {"c", "d", "empty", "greek", "turkish"}),
        (leaf("stage", "in", ["won", "lost"]), {"a", "d"}),
        (leaf("qty", "is_null", True), {"d", "empty", "greek", "turkish"}),
        (leaf("qty", "between", [0, 5]), {"a", "b"}),
        # text: contains/starts_with ignore case (also Cyrillic); % and _ are literal
        (leaf("title", "contains", "жук"), {"a"}),
        (leaf("title", "starts_with", "жУк И"), {"a"}),
        (leaf("title", "contains", "50%"), {"b"}),
        (leaf("title", "contains", "a_b"), {"c"}),
        (leaf("title", "starts_with", "A"), {"c", "d"}),
        (leaf("title", "eq", "ab test"), {"d"}),
        (leaf("title", "eq", "AB TEST"), set()),
        # case folding is per character, as PostgreSQL does it: no final-sigma rule, İ -> i
        (leaf("title", "contains", "οσ"), {"greek"}),
        (leaf("title", "contains", "ος"), set()),
        (leaf("title", "starts_with", "ii"), {"turkish"}),
        ({"not": leaf("title", "contains", "test")}, {"a", "b", "empty", "greek", "turkish"}),
        # money compares amounts, whatever the currency
        (leaf("amount", "gte", "99.99"), {"a", "b"}),
        (leaf("amount", "gt", {"amount": "99.99", "currency": "USD"}), {"a"}),
        (leaf("price", "lt", 0), {"b"}),
        (leaf("active", "eq", False), {"b"}),
        (leaf("active", "ne", True), {"b", "c", "d", "empty", "greek", "turkish"}),
        # multi-picklists: has value; '%' and '_' in choice values are literal
        (leaf("tags", "contains", "50%"), {"b"}),
        (leaf("tags", "contains", "a_b"), {"c"}),
        (leaf("tags", "contains", "ж"), {"a"}),
        ({"not": leaf("tags", "contains", "vip")}, {"b", "c", "d", "empty", "greek", "turkish"}),
        (leaf("extra", "is_null", False), {"a"}),
        # variables
        (leaf("assignee", "eq", "$user"), {"a"}),
        (leaf("owner", "in", "$team"), {"b", "c"}),
        (leaf("owner", "not_in", "$team"), {"a", "d", "empty", "greek", "turkish"}),
        (leaf("assignee", "in", ["$user", "u-2"]), {"a", "b"}),
        (leaf("due", "lt", "$today"), {"a"}),
        (leaf("due", "between", [{"$today": {"days": -7}}, {"$today": {"weeks": 1}}]), {"a", "b"}),
        (leaf("seen_at", "gte", {"$now": {"hours": -1}}), {"a"}),
        (leaf("seen_at", "lt", "$today"), {"b"}),
        (leaf("id", "in", ["a", "c"]), {"a", "c"}),
        # and / or / not nesting
        (
            {
                "or": [
                    leaf("qty", "lt", 0),
                    {"and": [leaf("stage", "eq", "won"), leaf("active", "eq", True)]},
                ]
            },
            {"a", "c"},
        ),
        ({"not": {"or": [leaf("qty", "is_null", True), leaf("qty", "gt", 0)]}}, {"b", "c"}),
    ],
)
def test_both_interpreters_select(select: Any, tree: Any, expected: set[str]) -> None:
    assert select(tree) == expected


def test_without_a_user_user_conditions_select_nobody(select: Any) -> None:
    anonymous = CriteriaContext(now=NOW)
    assert select(leaf("assignee", "eq", "$user"), anonymous) == set()
    assert select(leaf("assignee", "ne", "$user"), anonymous) == set(RECORDS)
    assert select(leaf("owner", "in", "$team"), anonymous) == set()
    assert select(leaf("owner", "not_in", "$team"), anonymous) == set(RECORDS)


def test_invalid_trees_are_refused_by_both(
    deal: EntityDef, deal_table: sa.Table, registry: FieldTypeRegistry
) -> None:
    tree = leaf("qty", "contains", "1")
    context = CriteriaContext(now=NOW)
    with pytest.raises(ValidationFailed) as in_sql:
        compile_sql(tree, deal, deal_table, registry, context)
    with pytest.raises(ValidationFailed) as in_python:
        compile_predicate(tree, deal, registry, context)
    assert in_sql.value.errors == in_python.value.errors
    assert in_sql.value.errors[0].pointer == "/op"
