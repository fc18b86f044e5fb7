"""Checking criteria trees: every mistake is reported with a JSON Pointer and a reason."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metacrm.criteria.context import Variable
from metacrm.criteria.tree import (
    MAX_DEPTH,
    MAX_LIST_VALUES,
    MAX_NODES,
    MAX_VALUES,
    And,
    BoundCondition,
    Condition,
    Not,
    Or,
    bind_criteria,
    check_criteria,
    parse_criteria,
)
from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef


def errors(tree: Any, deal: EntityDef, registry: FieldTypeRegistry) -> list[tuple[str, str]]:
    return [(e.pointer, e.message) for e in check_criteria(tree, deal, registry)]


def pointers(tree: Any, deal: EntityDef, registry: FieldTypeRegistry) -> list[str]:
    return [pointer for pointer, _ in errors(tree, deal, registry)]


def test_parses_nested_trees_into_nodes() -> None:
    tree = {
        "and": [
            {"field": "qty", "op": "gt", "value": 1},
            {"not": {"or": [{"field": "title", "op": "eq", "value": "x"}]}},
        ]
    }
    node, problems = parse_criteria(tree)
    assert problems == []
    assert node == And(
        (
            Condition("qty", "gt", 1, "/and/0"),
            Not(Or((Condition("title", "eq", "x", "/and/1/not/or/0"),))),
        )
    )


def test_valid_trees_have_no_errors(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    tree = {
        "and": [
            {"field": "title", "op": "contains", "value": "50%"},
            {"field": "qty", "op": "between", "value": [1, "10"]},
            {"field": "amount", "op": "gte", "value": {"amount": "10", "currency": "EUR"}},
            {"field": "due", "op": "lt", "value": {"$today": {"days": -7}}},
            {"field": "seen_at", "op": "gt", "value": "$now"},
            {"field": "assignee", "op": "in", "value": ["$user", "u-2"]},
            {"field": "owner", "op": "in", "value": "$team"},
            {"field": "tags", "op": "contains", "value": "vip"},
            {"field": "extra", "op": "is_null", "value": False},
            {"not": {"field": "created_at", "op": "gte", "value": "2024-01-01T00:00:00Z"}},
            {"field": "id", "op": "starts_with", "value": "0190"},
        ]
    }
    assert errors(tree, deal, registry) == []


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ([], [("", "a condition must be an object")]),
        ({"and": []}, [("/and", "'and' needs a non-empty list of conditions")]),
        ({"or": {"field": "qty"}}, [("/or", "'or' needs a non-empty list of conditions")]),
        (
            {"and": [{"field": "qty", "op": "eq", "value": 1}, {"foo": 1}]},
            [
                (
                    "/and/1",
                    'a condition must be {"and": [...]}, {"or": [...]}, {"not": {...}} '
                    'or {"field": ..., "op": ..., "value": ...}',
                )
            ],
        ),
        (
            {"and": [{"field": "qty", "op": "eq", "value": 1}], "or": []},
            [
                (
                    "",
                    'a condition must be {"and": [...]}, {"or": [...]}, {"not": {...}} '
                    'or {"field": ..., "op": ..., "value": ...}',
                )
            ],
        ),
        ({"field": "qty", "op": "eq"}, [("/value", "a condition needs a value")]),
        (
            {"field": "qty", "op": "eq", "value": 1, "extra": 2},
            [("/extra", "unknown key 'extra' in a condition")],
        ),
        ({"field": 3, "op": "eq", "value": 1}, [("/field", "must name a field")]),
    ],
)
def test_structure_errors(
    tree: Any, expected: list[tuple[str, str]], deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    assert errors(tree, deal, registry) == expected


def test_every_error_is_reported_at_once(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    tree = {
        "or": [
            {"field": "nope", "op": "eq", "value": 1},
            {
                "and": [
                    {"field": "qty", "op": "like", "value": 1},
                    {"field": "title", "op": "gt", "value": "a"},
                ]
            },
            {"field": "qty", "op": "eq", "value": "many"},
        ]
    }
    assert errors(tree, deal, registry) == [
        ("/or/0/field", "unknown field 'nope' of 'deal'"),
        (
            "/or/1/and/0/op",
            "unknown operator 'like'; use one of: between, contains, eq, gt, "
            "gte, in, is_null, lt, lte, ne, not_in, starts_with",
        ),
        (
            "/or/1/and/1/op",
            "field 'title' (text) does not support 'gt'; use one of: contains, "
            "eq, in, is_null, ne, not_in, starts_with",
        ),
        ("/or/2/value", "must be a whole number"),
    ]


@pytest.mark.parametrize(
    ("leaf", "pointer", "reason"),
    [
        ({"field": "qty", "op": "is_null", "value": "yes"}, "/value", "must be true or false"),
        ({"field": "qty", "op": "in", "value": []}, "/value", "must be a non-empty list"),
        ({"field": "qty", "op": "in", "value": [1, "x"]}, "/value/1", "must be a whole number"),
        ({"field": "qty", "op": "between", "value": [1]}, "/value", "list of two values"),
        ({"field": "qty", "op": "between", "value": [1, None]}, "/value/1", "use 'is_null'"),
        ({"field": "qty", "op": "eq", "value": None}, "/value", "use 'is_null'"),
        ({"field": "qty", "op": "eq", "value": [1]}, "/value", "must be a single value"),
        ({"field": "title", "op": "contains", "value": 5}, "/value", "must be a string"),
        ({"field": "title", "op": "eq", "value": "  "}, "/value", "must not be empty"),
        ({"field": "title", "op": "eq", "value": "x" * 61}, "/value", "at most 60 characters"),
        ({"field": "price", "op": "gt", "value": "1e12"}, "/value", "digits before the point"),
        ({"field": "amount", "op": "gt", "value": {"currency": "USD"}}, "/value", "an amount"),
        ({"field": "stage", "op": "eq", "value": "open"}, "/value", "must be one of"),
        ({"field": "tags", "op": "contains", "value": "gold"}, "/value", "must be one of"),
        (
            {"field": "seen_at", "op": "gt", "value": "2024-01-01T00:00:00"},
            "/value",
            "time zone offset",
        ),
        ({"field": "tags", "op": "eq", "value": ["vip"]}, "/op", "does not support 'eq'"),
        ({"field": "extra", "op": "eq", "value": 1}, "/op", "does not support 'eq'"),
    ],
)
def test_value_errors_point_at_the_value(
    leaf: dict[str, Any], pointer: str, reason: str, deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    tree = {"and": [{"field": "qty", "op": "eq", "value": 1}, leaf]}
    ((where, message),) = errors(tree, deal, registry)
    assert where == "/and/1" + pointer
    assert reason in message


@pytest.mark.parametrize(
    ("leaf", "reason"),
    [
        ({"field": "title", "op": "eq", "value": "$user"}, "$user cannot be compared with field"),
        ({"field": "qty", "op": "gt", "value": "$now"}, "$now cannot be compared with field"),
        ({"field": "assignee", "op": "eq", "value": "$team"}, "$team stands for a list"),
        ({"field": "assignee", "op": "in", "value": ["$team"]}, "$team stands for a list"),
        ({"field": "due", "op": "in", "value": "$team"}, "$team cannot be compared"),
        (
            {"field": "due", "op": "gt", "value": {"$today": {"hours": 3}}},
            "offset unit 'hours' of $today is not one of: days, weeks, months",
        ),
        ({"field": "due", "op": "gt", "value": {"$today": {"days": 1.5}}}, "whole number"),
        ({"field": "due", "op": "gt", "value": {"$today": {"days": 10**7}}}, "between"),
        ({"field": "due", "op": "gt", "value": {"$now": 3}}, "must be an object"),
    ],
)
def test_variables_must_fit_the_field(
    leaf: dict[str, Any], reason: str, deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    ((_, message),) = errors(leaf, deal, registry)
    assert reason in message


def test_text_that_only_looks_like_a_variable_is_a_literal(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    assert errors({"field": "title", "op": "eq", "value": "$100"}, deal, registry) == []


def test_pointer_prefix_and_source_are_carried(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    problems = check_criteria(
        {"field": "nope", "op": "eq", "value": 1},
        deal,
        registry,
        pointer="/filter",
        source="views/deals.json",
    )
    assert problems == [
        ErrorDetail("unknown field 'nope' of 'deal'", "/filter/field", "views/deals.json")
    ]


def test_deep_nesting_is_refused_not_crashed(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    tree: Any = {"field": "qty", "op": "eq", "value": 1}
    for _ in range(MAX_DEPTH + 5):
        tree = {"not": tree}
    ((_, message),) = errors(tree, deal, registry)
    assert "nest deeper" in message


def test_an_in_list_longer_than_the_budget_is_refused_at_its_value(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    """65,536 values once reached PostgreSQL's bind-parameter limit as a 500."""
    tree = {"not": {"field": "qty", "op": "in", "value": list(range(70_000))}}
    assert errors(tree, deal, registry) == [
        ("/not/value", f"has 70000 values; 'in' and 'not_in' take at most {MAX_LIST_VALUES}")
    ]
    fits = {"field": "qty", "op": "not_in", "value": list(range(MAX_LIST_VALUES))}
    assert errors(fits, deal, registry) == []


def test_a_tree_of_more_nodes_than_the_budget_is_refused_at_its_list(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    """An OR of 60,000 conditions once took 26 s; it is refused before any is checked."""
    leaf = {"field": "qty", "op": "eq", "value": "not a number"}
    tree = {"and": [{"field": "qty", "op": "eq", "value": 1}, {"or": [leaf] * 20_000}]}
    assert errors(tree, deal, registry) == [
        ("/and/1/or", f"has 20000 conditions; a condition tree has at most {MAX_NODES} "
                      "(and/or/not count too)")
    ]
    most = {"or": [{"field": "qty", "op": "eq", "value": 1}] * (MAX_NODES - 1)}
    assert errors(most, deal, registry) == []


def test_nodes_are_counted_across_the_whole_tree(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    half = [{"field": "qty", "op": "eq", "value": 1}] * (MAX_NODES // 2)
    tree = {"and": [{"or": half}, {"or": half}]}
    ((pointer, message),) = errors(tree, deal, registry)
    assert pointer == f"/and/1/or/{MAX_NODES // 2 - 3}"
    assert message == f"a condition tree has at most {MAX_NODES} conditions (and/or/not count too)"


def test_values_are_counted_across_the_whole_tree(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    lists = [{"field": "qty", "op": "in", "value": list(range(MAX_LIST_VALUES))}
             for _ in range(MAX_VALUES // MAX_LIST_VALUES + 1)]
    assert errors({"or": lists}, deal, registry) == [
        (f"/or/{MAX_VALUES // MAX_LIST_VALUES}/value",
         f"the 'in' and 'not_in' lists of a condition tree hold at most {MAX_VALUES} "
         "values together")
    ]
    with pytest.raises(ValidationFailed):
        bind_criteria({"or": lists}, deal, registry)


def test_operators_come_from_the_field_or_the_catalog(
    registry: FieldTypeRegistry, deal: EntityDef
) -> None:
    """System columns have no compiled operators: the catalog supplies them."""
    assert errors({"field": "owner", "op": "contains", "value": "a"}, deal, registry) == [
        (
            "/op",
            "field 'owner' (user) does not support 'contains'; use one of: eq, in, "
            "is_null, ne, not_in",
        )
    ]


def test_bind_coerces_operands_and_keeps_variables(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    bound = bind_criteria(
        {"field": "due", "op": "between", "value": ["2024-01-01", {"$today": {"weeks": 1}}]},
        deal,
        registry,
    )
    assert isinstance(bound, BoundCondition)
    assert bound.field is deal.field("due")
    assert bound.operand == (date(2024, 1, 1), Variable("$today", (("weeks", 1),)))


def test_bind_raises_with_every_error(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    with pytest.raises(ValidationFailed) as caught:
        bind_criteria(
            {
                "and": [
                    {"field": "a", "op": "eq", "value": 1},
                    {"field": "qty", "op": "eq", "value": "x"},
                ]
            },
            deal,
            registry,
            source="api",
        )
    assert [(e.pointer, e.source) for e in caught.value.errors] == [
        ("/and/0/field", "api"),
        ("/and/1/value", "api"),
    ]


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(
        [
            "qty",
            "title",
            "tags",
            "due",
            "owner",
            "amount",
            "eq",
            "in",
            "between",
            "contains",
            "is_null",
            "$user",
            "$team",
            "$now",
            "$today",
            "vip",
        ]
    )
)
json_trees = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["and", "or", "not", "field", "op", "value", "$today", "$now", "days", "amount"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(tree=json_trees)
def test_any_json_gets_errors_or_a_bound_tree(
    tree: Any, deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    problems = check_criteria(tree, deal, registry)
    assert all(p.message and p.pointer is not None for p in problems)
    if problems:
        with pytest.raises(ValidationFailed):
            bind_criteria(tree, deal, registry)
    else:
        bind_criteria(tree, deal, registry)


def test_text_match_value_with_nul_is_refused_with_its_pointer(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    tree = {"and": [{"field": "title", "op": "contains", "value": "a\x00b"}]}
    errors = check_criteria(tree, deal, registry)
    assert [(e.pointer, e.message) for e in errors] == [
        ("/and/0/value", "must not contain NUL characters")
    ]
