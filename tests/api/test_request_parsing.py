"""List requests: query strings and JSON bodies become checked criteria, sorts and pages.

What a client relies on: filters and sorts are accepted only on declared fields with the
operators their types support, values are coerced by the field types, and every mistake is
reported at once with a pointer at the parameter that caused it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest

from metacrm.api.request_parsing import (
    DEFAULT_LIMIT,
    ListQuery,
    parse_list_args,
    parse_query_body,
)
from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.model import EntityDef


def _labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def _field(name: str, type_: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": _labels(name), **options}


DEAL = {
    "kind": "entity", "name": "deal", "version": 1, "label": _labels("Deal"),
    "search_fields": ["title"],
    "fields": [
        _field("title", "text", indexed=True),
        _field("amount", "money", currency="USD", indexed=True),
        _field("seats", "integer"),
        _field("closed", "boolean"),
        _field("close_date", "date", indexed=True),
        _field("stage", "picklist", choices=[
            {"value": "open", "label": _labels("Open")},
            {"value": "won", "label": _labels("Won")},
        ]),
        _field("tags", "multi_picklist", choices=[
            {"value": "hot", "label": _labels("Hot")},
            {"value": "vip", "label": _labels("VIP")},
        ]),
        _field("notes", "textarea"),
        _field("company", "reference", entity="company"),
    ],
}
COMPANY = {
    "kind": "entity", "name": "company", "version": 1, "label": _labels("Company"),
    "fields": [_field("name", "text")],
}


@pytest.fixture(scope="module")
def registry() -> FieldTypeRegistry:
    return default_registry()


@pytest.fixture(scope="module")
def deal(registry: FieldTypeRegistry) -> EntityDef:
    documents = [Document.from_body(body, source=f"{body['name']}.json", pack="test")
                 for body in (DEAL, COMPANY)]
    entity = compile_model(documents, registry).entity("deal")
    assert entity is not None
    return entity


def parse(query: str, deal: EntityDef, registry: FieldTypeRegistry) -> ListQuery:
    return parse_list_args(parse_qsl(query, keep_blank_values=True), deal, registry)


def errors_of(query: str, deal: EntityDef, registry: FieldTypeRegistry) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse(query, deal, registry)
    return {e.pointer: e.message for e in caught.value.errors}


def test_no_parameters_means_the_first_page_of_everything(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    assert parse("", deal, registry) == ListQuery(limit=DEFAULT_LIMIT)


def test_bracket_filters_become_one_criteria_tree(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    query = parse("filter[amount][gt]=100&filter[stage]=won&filter[closed][is_null]=false",
                  deal, registry)
    assert query.criteria == {"and": [
        {"field": "amount", "op": "gt", "value": "100"},
        {"field": "stage", "op": "eq", "value": "won"},
        {"field": "closed", "op": "is_null", "value": False},
    ]}


def test_list_operators_take_commas_and_repeats(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    query = parse("filter[stage][in]=open,won&filter[seats][not_in]=1&filter[seats][not_in]=2",
                  deal, registry)
    assert query.criteria == {"and": [
        {"field": "stage", "op": "in", "value": ["open", "won"]},
        {"field": "seats", "op": "not_in", "value": ["1", "2"]},
    ]}


def test_between_and_relative_dates(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    query = parse('filter[close_date][between]={"$today":{"days":-7}},$today', deal, registry)
    assert query.criteria == {"field": "close_date", "op": "between",
                              "value": [{"$today": {"days": -7}}, "$today"]}
    query = parse('filter[created_at][gte]={"$now":{"hours":-2}}', deal, registry)
    assert query.criteria == {"field": "created_at", "op": "gte",
                              "value": {"$now": {"hours": -2}}}


def test_json_filter_and_bracket_filters_are_anded(
    deal: EntityDef, registry: FieldTypeRegistry
) -> None:
    tree = ('{"or":[{"field":"seats","op":"gte","value":5},'
            '{"field":"owner","op":"eq","value":"$user"}]}')
    query = parse(f"filter={tree}&filter[title][contains]=acme", deal, registry)
    assert query.criteria == {"and": [
        {"or": [{"field": "seats", "op": "gte", "value": 5},
                {"field": "owner", "op": "eq", "value": "$user"}]},
        {"field": "title", "op": "contains", "value": "acme"},
    ]}


def test_sort_fields_limit_cursor_q_include(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    query = parse("sort=-amount,title&fields=title,amount&fields=title&limit=500&cursor=abc"
                  "&q=%20acme%20&include=company", deal, registry)
    assert query == ListQuery(sort=("-amount", "title"), fields=("title", "amount"), limit=500,
                              cursor="abc", q="acme", include=("company",))


@pytest.mark.parametrize(("query", "pointer", "reason"), [
    ("filter[nope][eq]=1", "/filter/nope", "unknown field"),
    ("filter[title][gt]=a", "/filter/title/gt", "does not support 'gt'"),
    ("filter[title][like]=a", "/filter/title/like", "unknown operator"),
    ("filter[seats][gt]=many", "/filter/seats/gt", "whole number"),
    ("filter[seats][in]=1,x", "/filter/seats/in/1", "whole number"),
    ("filter[seats][in]=1,,2", "/filter/seats/in", "comma-separated"),
    ("filter[stage][eq]=lost", "/filter/stage/eq", "open"),
    ("filter[closed][is_null]=maybe", "/filter/closed/is_null", "true or false"),
    ("filter[seats][between]=1", "/filter/seats/between", "low,high"),
    ("filter[seats][gt]=1&filter[seats][gt]=2", "/filter/seats/gt", "more than once"),
    ("filter[amount", "/filter", "malformed"),
    ("filter={not json", "/filter", "not a JSON criteria tree"),
    ('filter={"field":"seats","op":"eq"}', "/filter/value", "needs a value"),
    ("filter=NaN", "/filter", "not a JSON"),
    ("sort=notes", "/sort/0", "cannot be sorted on 'notes'"),
    ("sort=title,-nope", "/sort/1", "not a field"),
    ("sort=title,-title", "/sort/1", "twice"),
    ("sort=a;drop table", "/sort/0", "field name"),
    ("fields=title,secret", "/fields/1", "not a field"),
    ("fields=", "/fields", "at least one"),
    ("include=title", "/include/0", "not a reference field"),
    ("include=company,company", "/include/1", "included twice"),
    ("include=company&include=company", "/include/1", "included twice"),
    ("cursor=", "/cursor", "not a valid cursor"),
    ("limit=0", "/limit", "1 to 500"),
    ("limit=501", "/limit", "1 to 500"),
    ("limit=ten", "/limit", "1 to 500"),
    ("limit=1&limit=2", "/limit", "more than once"),
    ("q=" + "x" * 201, "/q", "longer than"),
    ("filters[title]=x", "/filters[title]", "unknown parameter"),
    ("q=a%00b", "/q", "NUL"),
    ('filter={"field":"title","op":"contains","value":"a\\u0000"}', "/filter/value", "NUL"),
])
def test_mistakes_point_at_the_parameter(
    deal: EntityDef, registry: FieldTypeRegistry, query: str, pointer: str, reason: str
) -> None:
    found = errors_of(query, deal, registry)
    assert pointer in found, found
    assert reason in found[pointer]


def test_every_mistake_is_reported_at_once(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    found = errors_of("filter[nope]=1&sort=notes&limit=0&include=title", deal, registry)
    assert set(found) == {"/filter/nope", "/sort/0", "/limit", "/include/0"}


def test_json_body_is_the_same_request(deal: EntityDef, registry: FieldTypeRegistry) -> None:
    body = {"filter": {"field": "amount", "op": "gte", "value": "10.50"}, "sort": ["-amount"],
            "fields": ["title"], "limit": 10, "cursor": None, "q": "acme",
            "include": ["company"]}
    assert parse_query_body(body, deal, registry) == ListQuery(
        criteria=body["filter"], sort=("-amount",), fields=("title",), limit=10, q="acme",
        include=("company",))
    assert parse_query_body({}, deal, registry) == ListQuery()


@pytest.mark.parametrize(("body", "pointer"), [
    ([], ""),
    ({"filter": {"field": "seats", "op": "gt", "value": "x"}}, "/filter/value"),
    ({"filter": {"and": []}}, "/filter/and"),
    ({"sort": "-amount"}, "/sort"),
    ({"sort": ["nope"]}, "/sort/0"),
    ({"fields": [1]}, "/fields"),
    ({"limit": True}, "/limit"),
    ({"limit": "10"}, "/limit"),
    ({"cursor": 5}, "/cursor"),
    ({"q": ["x"]}, "/q"),
    ({"include": ["seats"]}, "/include/0"),
    ({"where": "1=1"}, "/where"),
])
def test_json_body_mistakes_point_into_the_body(
    deal: EntityDef, registry: FieldTypeRegistry, body: Any, pointer: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_query_body(body, deal, registry)
    assert pointer in {e.pointer for e in caught.value.errors}
