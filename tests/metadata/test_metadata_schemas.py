"""Schema validation of every document kind: strict keys, readable messages, JSON Pointers."""

from __future__ import annotations

from typing import Any

import pytest
from metadata_builders import (
    document,
    entity,
    field,
    labels,
    pipeline,
    state,
    transition,
)

from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.validation import validate_body


def errors_of(body: Any) -> list[tuple[str, str]]:
    return [(e.pointer, e.message) for e in validate_body(body, "x.json")]


def test_valid_documents_of_every_kind_pass() -> None:
    bodies = [
        entity("deal", field("title", max_length=10), field("stage", "state", pipeline="p")),
        pipeline("p", "deal", transitions=[transition("close", "*", "done")]),
        document("role", "rep", entities={"deal": {"read": "own", "rules": [
            {"field": "title", "op": "eq", "value": "x"}]}}, transitions={"p": "*"}),
        document("trigger", "t", entity="deal", event="time", date_field="close_date",
                 offset={"days": -3}, actions=[{"type": "notify", "params": {"to": "owner"}}]),
        document("view", "v", entity="deal", type="list", columns=["title"], sort=["-title"]),
        document("view", "f", entity="deal", type="form",
                 sections=[{"label": labels(), "fields": ["title"], "columns": 2}]),
        document("report", "r", entity="deal", group_by=["stage"],
                 metrics=[{"op": "count"}, {"op": "sum", "field": "amount"}], chart="bar"),
    ]

    assert [errors_of(body) for body in bodies] == [[]] * len(bodies)


def test_a_typo_in_a_key_is_rejected_at_the_key_with_a_suggestion() -> None:
    """Errors are listed in document order: the field comes before the misspelt key."""
    body = entity("deal", field("title", max_lenght=10))
    body["serach_fields"] = ["title"]

    assert errors_of(body) == [
        ("/fields/0/max_lenght", "unknown property 'max_lenght' (did you mean 'max_length'?)"),
        ("/serach_fields", "unknown property 'serach_fields' (did you mean 'search_fields'?)"),
    ]


@pytest.mark.parametrize(("type_", "option", "value"), [
    ("integer", "max_length", 10),
    ("text", "precision", 4),
    ("email", "choices", []),
    ("boolean", "entity", "deal"),
])
def test_an_option_of_another_type_is_rejected(type_: str, option: str, value: Any) -> None:
    body = entity("deal", field("f", type_, **{option: value}))

    assert errors_of(body) == [
        (f"/fields/0/{option}", f"property '{option}' does not apply when type is \"{type_}\"")]


@pytest.mark.parametrize(("options", "pointer", "message"), [
    ({"max_length": 0}, "/fields/0/max_length", "0 is less than the minimum 1"),
    ({"max_length": 20000}, "/fields/0/max_length", "20000 is greater than the maximum 10000"),
    ({"max_length": "10"}, "/fields/0/max_length", "expected an integer, got a string"),
    ({"required": "yes"}, "/fields/0/required", "expected a boolean (true or false), got a string"),
    ({"label": {"en": "Title"}}, "/fields/0/label", "missing required property 'ru'"),
    ({"name": "Title"}, "/fields/0/name",
     '"Title" is not a valid name: use lower-case letters a-z, digits and _, starting with a '
     "letter"),
    ({"name": "a" * 41}, "/fields/0/name", f'"{"a" * 41}" is too long: at most 40 characters'),
])
def test_field_values_are_checked(options: dict[str, Any], pointer: str, message: str) -> None:
    assert errors_of(entity("deal", {**field("title"), **options})) == [(pointer, message)]


def test_type_specific_options_are_checked_per_type() -> None:
    body = entity(
        "deal",
        field("kind", "picklist"),
        field("company", "reference", entity="company", on_delete="nullify"),
        field("amount", "money", currency="usd"),
        field("stage", "state"),
        field("phone", "phone", default_region="USA"),
    )

    assert errors_of(body) == [
        ("/fields/0", "missing required property 'choices'"),
        ("/fields/1/on_delete", '"nullify" is not one of "restrict", "set_null", "cascade"'),
        ("/fields/2/currency", '"usd" is not a three-letter ISO 4217 currency code such as USD'),
        ("/fields/3", "missing required property 'pipeline'"),
        ("/fields/4/default_region",
         '"USA" is not a two-letter ISO 3166 country code such as US'),
    ]


def test_a_type_that_is_not_built_in_may_carry_its_own_options() -> None:
    """Extension packs register types; the compiler checks them against the registry."""
    assert errors_of(entity("place", field("location", "geo_point", radius_km=5))) == []


def test_choices_are_checked() -> None:
    body = entity("deal", field("rating", "picklist", choices=[
        {"value": "hot", "label": labels()}, {"value": "a;b", "label": labels()},
        {"value": "cold"}]))

    assert errors_of(body) == [
        ("/fields/0/choices/1/value",
         '"a;b" is not a valid choice value: letters, digits, _ . - only (no spaces or \';\')'),
        ("/fields/0/choices/2", "missing required property 'label'"),
    ]


def test_document_header_is_checked() -> None:
    body = {"kind": "entity", "name": "1deal", "version": 2, "label": {"en": "", "ru": "x",
                                                                        "EN": "x"},
            "fields": []}

    assert errors_of(body) == [
        ("/name", '"1deal" is not a valid name: use lower-case letters a-z, digits and _, '
                  "starting with a letter"),
        ("/version", "2 is not allowed here: expected 1"),
        ("/label", 'property name "EN" is not a language code such as en, ru or pt-BR'),
        ("/label/en", "must not be empty"),
        ("/fields", "must not be empty"),
    ]


def test_pipeline_states_and_transitions_are_checked() -> None:
    body = pipeline("p", "deal", transitions=[
        transition("go", "open", "done"),
        {**transition("back", ["done"], "open"), "condtion": {}},
    ])
    body["states"].append(state("late", category="overdue", probability=150, color="red"))

    assert errors_of(body) == [
        ("/states/2/category", '"overdue" is not one of "open", "won", "lost"'),
        ("/states/2/probability", "150 is greater than the maximum 100"),
        ("/states/2/color", '"red" is not a colour of the form #rrggbb'),
        ("/transitions/0/from", '"open" is not valid here: expected "*" or an array'),
        ("/transitions/1/condtion", "unknown property 'condtion' (did you mean 'condition'?)"),
    ]


def test_criteria_trees_are_checked_where_they_appear() -> None:
    body = document("view", "v", entity="deal", type="list", columns=["title"], filter={
        "and": [
            {"field": "title", "op": "equals", "value": "x"},
            {"or": []},
            {"field": "tags", "op": "in", "value": []},
            {"field": "due", "op": "lt", "value": {"$today": {"dayz": 1}}},
            {"field": "done", "op": "is_null", "value": "yes"},
            {"field": "amount", "op": "between", "value": [1]},
            {"field": "title", "op": "eq"},
        ]})

    assert errors_of(body) == [
        ("/filter/and/0/op", '"equals" is not one of "eq", "ne", "gt", "gte", "lt", "lte", '
                             '"in", "not_in", "contains", "starts_with", "is_null", "between"'),
        ("/filter/and/1/or", "must not be empty"),
        ("/filter/and/2/value", "must not be empty"),
        ("/filter/and/3/value/$today/dayz", "unknown property 'dayz' (did you mean 'days'?)"),
        ("/filter/and/4/value", "expected a boolean (true or false), got a string"),
        ("/filter/and/5/value", "must have at least 2 items"),
        ("/filter/and/6", "missing required property 'value'"),
    ]


def test_role_scopes_and_field_security_are_checked() -> None:
    body = document("role", "rep", entities={
        "Deal": {"read": "everything"},
        "lead": {"read": "own", "fields": {"notes": "hide"}, "delete_all": True},
    }, transitions={"p": "all"})

    assert errors_of(body) == [
        ("/entities", 'property name "Deal" is not a valid name: use lower-case letters a-z, '
                      "digits and _, starting with a letter"),
        ("/entities/Deal/read", '"everything" is not one of "none", "own", "team", "all"'),
        ("/entities/lead/fields/notes", '"hide" is not one of "hidden", "read_only" '
                                        "(did you mean 'hidden'?)"),
        ("/entities/lead/delete_all", "unknown property 'delete_all' (did you mean 'delete'?)"),
        ("/transitions/p", '"all" is not valid here: expected "*" or an array'),
    ]


def test_trigger_event_options_belong_to_their_event() -> None:
    body = document("trigger", "t", entity="deal", event="created", fields=["title"],
                    actions=[{"type": "notify", "parms": {}}], mode="later")
    scheduled = document("trigger", "s", entity="deal", event="scheduled", cron="daily",
                         actions=[{"type": "notify"}])
    changed = document("trigger", "c", entity="deal", event="field_changed",
                       actions=[{"type": "notify"}])

    assert errors_of(body) == [
        ("/fields", "property 'fields' does not apply when event is \"created\""),
        ("/actions/0/parms", "unknown property 'parms' (did you mean 'params'?)"),
        ("/mode", '"later" is not one of "sync", "async"'),
    ]
    assert errors_of(scheduled) == [
        ("/cron", "\"daily\" is not a five-field cron expression such as '0 9 * * 1'")]
    assert errors_of(changed) == [("", "missing required property 'fields'")]


def test_view_layout_keys_belong_to_their_view_type() -> None:
    body = document("view", "v", entity="deal", type="list", columns=["title", "title"],
                    sections=[], sort=["title desc"])

    assert errors_of(body) == [
        ("/columns", 'items must be unique: "title" appears more than once'),
        ("/sections", "property 'sections' does not apply when type is \"list\""),
        ("/sort/0", '"title desc" is not a field name, optionally preceded by - for '
                    "descending order"),
    ]


def test_report_metrics_are_checked() -> None:
    body = document("report", "r", entity="deal",
                    metrics=[{"op": "sum"}, {"op": "median"}, {"op": "mode"}], chart="radar")

    assert errors_of(body) == [
        ("/metrics/0", "missing required property 'field'"),
        ("/metrics/1", "missing required property 'field'"),
        ("/metrics/2/op", '"mode" is not one of "count", "count_distinct", "sum", "avg", '
                          '"median", "min", "max", "ratio"'),
        ("/chart", '"radar" is not one of "table", "bar", "column", "stacked_bar", "line", '
                   '"area", "pie", "donut", "funnel", "number"'),
    ]


def test_errors_carry_the_source_they_were_validated_for() -> None:
    errors = validate_body({"kind": "entity"}, "sales/deal.json")

    assert ErrorDetail("missing required property 'name'", "", "sales/deal.json") in errors


def test_keys_of_a_variant_are_not_blamed_when_the_discriminator_is_missing() -> None:
    view = document("view", "v", entity="deal", columns=["title"])
    no_type = {"name": "size", "label": labels(), "max_length": 3}

    assert errors_of(view) == [("", "missing required property 'type'")]
    assert errors_of(entity("deal", no_type)) == [("/fields/0", "missing required property 'type'")]


def test_nesting_too_deep_for_validation_is_an_error_not_a_crash() -> None:
    tree: dict[str, Any] = {"field": "title", "op": "eq", "value": "x"}
    for _ in range(3000):
        tree = {"not": tree}

    assert errors_of(document("view", "v", entity="deal", type="list", columns=["title"],
                              filter=tree)) == [("", "the document is nested too deeply")]
