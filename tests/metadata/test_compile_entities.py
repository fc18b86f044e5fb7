"""Compiling entities: names, types, options, defaults, indexes, search — with pointers."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from metadata_builders import compile_errors, compiled, entity, field, find, labels

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.model import Choice, IndexDef, ReminderDef, ValidationRuleDef


def test_entity_compiles_to_frozen_definitions(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity(
        "deal",
        field("title", max_length=80, required=True),
        field("amount", "money", currency="EUR", indexed=True),
        field("rating", "picklist", choices=[{"value": "hot", "label": labels("Hot", "Горячий")}],
              default="hot"),
        indexes=[{"name": "deal_title", "fields": ["title", "amount"], "unique": True}],
        search_fields=["title"], title_field="title",
    ))

    deal = model.entities["deal"]
    title, amount, rating = deal.fields
    assert deal.table == "crm_deal"
    assert deal.plural_label == deal.label == {"en": "deal", "ru": "Штука"}
    assert (title.required, title.options) == (True, {"max_length": 80})
    assert title.operators == registry.operators("text")
    assert amount.options == {"currency": "EUR"} and amount.indexed
    assert rating.choices == (Choice("hot", {"en": "Hot", "ru": "Горячий"}),)
    assert rating.options == {} and rating.default == "hot"
    assert deal.indexes == (IndexDef("deal_title", ("title", "amount"), unique=True),)
    assert (deal.search_fields, deal.title_field) == (("title",), "title")
    assert title.source.file == "test/deal.json" and title.source.pointer == "/fields/0"
    assert isinstance(model.entities, MappingProxyType)
    assert isinstance(title.options, MappingProxyType)
    with pytest.raises(TypeError):
        title.options["max_length"] = 1  # type: ignore[index]


@pytest.mark.parametrize(("name", "reason"), [
    ("owner", "'owner' is a system column every record has; choose another name"),
    ("version", "'version' is a system column every record has; choose another name"),
    ("select", "'select' is an SQL reserved word; choose another name"),
    ("user", "'user' is an SQL reserved word; choose another name"),
    ("order", "'order' is an SQL reserved word; choose another name"),
    ("arch_notes", "names starting with 'arch_' are reserved for archived columns"),
])
def test_reserved_field_names_are_refused(
    registry: FieldTypeRegistry, name: str, reason: str
) -> None:
    errors = compile_errors(registry, entity("deal", field("title"), field(name)))

    assert find(errors, "test/deal.json", "/fields/1/name").message == reason


def test_names_that_are_only_sql_keywords_elsewhere_are_allowed(
    registry: FieldTypeRegistry
) -> None:
    model = compiled(registry, entity("deal", field("name"), field("status"), field("key"),
                                      field("action"), field("position")))

    assert len(model.entities["deal"].fields) == 5


def test_money_currency_column_collides_with_a_field_of_that_name(
    registry: FieldTypeRegistry
) -> None:
    errors = compile_errors(registry, entity(
        "product", field("price_currency"), field("price", "money", currency="USD")))

    assert find(errors, "test/product.json", "/fields/1/name").message == (
        "field 'price' needs the column 'price_currency', which field 'price_currency' "
        "already uses")


def test_duplicate_field_names_are_refused(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity("deal", field("title"), field("title", "integer")))

    assert find(errors, "test/deal.json", "/fields/1/name").message == (
        "duplicate field name 'title' (first declared at /fields/0)")


def test_unknown_field_type_is_refused_with_a_suggestion(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity("deal", field("amount", "mony"),
                                             field("where", "geo_point", radius=3)))

    assert find(errors, "test/deal.json", "/fields/0/type").message == (
        "unknown field type 'mony' (did you mean 'money'?)")
    assert find(errors, "test/deal.json", "/fields/1/type").message == (
        "unknown field type 'geo_point'")


def test_options_are_checked_by_the_field_type(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity(
        "deal", field("rate", "decimal", precision=4, scale=6)))

    error = find(errors, "test/deal.json", "/fields/0/scale")
    assert "scale" in error.message or "precision" in error.message


@pytest.mark.parametrize(("definition", "pointer"), [
    (field("n", "integer", default="many"), "/fields/0/default"),
    (field("n", "integer", min=0, max=10, default=11), "/fields/0/default"),
    (field("r", "picklist", choices=[{"value": "a", "label": labels()}], default="b"),
     "/fields/0/default"),
    (field("t", "multi_picklist", choices=[{"value": "a", "label": labels()}],
           default=["a", "z"]), "/fields/0/default"),
    (field("d", "date", default="yesterday"), "/fields/0/default"),
])
def test_defaults_that_do_not_fit_their_field_are_refused(
    registry: FieldTypeRegistry, definition: dict[str, object], pointer: str
) -> None:
    errors = compile_errors(registry, entity("deal", definition))

    assert find(errors, "test/deal.json", pointer).message


def test_fitting_defaults_of_every_shape_compile(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity(
        "deal",
        field("tags", "multi_picklist", choices=[{"value": "a", "label": labels()},
                                                 {"value": "b", "label": labels()}],
              default=["a", "b"]),
        field("amount", "money", currency="USD", default={"amount": "10.00", "currency": "USD"}),
        field("data", "json", default={"k": [1, 2]}),
        field("due", "date", default="2030-01-31"),
        field("day", "date", default="$today"),
        field("at", "datetime", default="$now"),
    ))

    assert model.entities["deal"].field("tags").default == ["a", "b"]  # type: ignore[union-attr]


def test_indexes_name_existing_fields_with_unique_names(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity(
        "deal", field("title"),
        indexes=[{"name": "by_title", "fields": ["title", "titel"]},
                 {"name": "by_title", "fields": ["title"]}],
    ), entity("lead", field("title"), indexes=[{"name": "by_title", "fields": ["title"]}]))

    assert find(errors, "test/deal.json", "/indexes/0/fields/1").message == (
        "unknown field 'titel' of entity 'deal' (did you mean 'title'?)")
    assert find(errors, "test/deal.json", "/indexes/1/name").message == (
        "duplicate index name 'by_title'")
    assert find(errors, "test/lead.json", "/indexes/0/name").message == (
        "index name 'by_title' is already used by entity 'deal'; index names are unique in "
        "the whole database")


def test_search_and_title_fields_must_exist_and_be_searchable(
    registry: FieldTypeRegistry
) -> None:
    errors = compile_errors(registry, entity(
        "deal", field("title"), field("amount", "integer"),
        search_fields=["title", "amount", "nope"], title_field="name"))

    assert find(errors, "test/deal.json", "/search_fields/1").message == (
        "field 'amount' (integer) cannot be searched: its type has no 'contains' operator")
    assert find(errors, "test/deal.json", "/search_fields/2").message == (
        "unknown field 'nope' of entity 'deal'")
    assert find(errors, "test/deal.json", "/title_field").message == (
        "unknown field 'name' of entity 'deal'")


DONE = {"field": "status", "op": "in", "value": ["done", "cancelled"]}


def test_reminders_compile_to_their_field_recipients_and_condition(
    registry: FieldTypeRegistry
) -> None:
    model = compiled(registry, entity(
        "chore", field("title"), field("due", "date"), field("helper", "user"),
        field("status", "picklist", choices=[{"value": v, "label": labels(v)}
                                             for v in ("open", "done", "cancelled")]),
        reminders=[{"field": "due", "to": "owner", "unless": DONE},
                   {"field": "due", "to": ["owner", "helper"]}]))

    assert model.entities["chore"].reminders == (
        ReminderDef("due", ("owner",), DONE), ReminderDef("due", ("owner", "helper"), None))


def test_a_reminder_needs_a_date_field_a_user_to_tell_and_a_valid_condition(
    registry: FieldTypeRegistry
) -> None:
    errors = compile_errors(registry, entity(
        "chore", field("title"), field("due", "date"),
        reminders=[{"field": "title", "to": "owner"},
                   {"field": "nope", "to": ["owner", "title"]},
                   {"field": "due", "to": "owner",
                    "unless": {"field": "state", "op": "eq", "value": "done"}}]))

    assert find(errors, "test/chore.json", "/reminders/0/field").message == (
        "field 'title' (text) is not a date or datetime field: a reminder needs a moment")
    assert find(errors, "test/chore.json", "/reminders/1/field").message == (
        "unknown field 'nope' of entity 'chore'")
    assert find(errors, "test/chore.json", "/reminders/1/to/1").message == (
        "must be 'owner' or a user field of 'chore'")
    assert find(errors, "test/chore.json", "/reminders/2/unless/field").message == (
        "unknown field 'state' of 'chore'")


def test_an_index_may_cover_created_at_after_its_leading_field(
        registry: FieldTypeRegistry) -> None:
    from metacrm.storage.tables import entity_indexes

    model = compiled(registry, entity("note", field("about", "regarding", entities=["note"]),
                                      indexes=[{"name": "timeline",
                                                "fields": ["about", "created_at"]}]))
    errors = compile_errors(registry, entity("note", field("title"), indexes=[
        {"name": "by_date", "fields": ["created_at", "title"]}]))

    assert ("idx_crm_note_timeline", ("about", "created_at"), False) in entity_indexes(
        model.entities["note"], registry)
    assert "unknown field 'created_at'" in find(errors, "test/note.json",
                                                "/indexes/0/fields/0").message


def test_validation_rules_compile_and_are_checked(registry: FieldTypeRegistry) -> None:
    rule = {"name": "needs_title", "require": {"field": "title", "op": "is_null", "value": False},
            "message": labels("Name it", "Назовите"), "field": "title", "on": ["create"]}
    model = compiled(registry, entity("chore", field("title"), validations=[rule]))
    assert model.entities["chore"].validations == (ValidationRuleDef(
        name="needs_title", require=rule["require"], message=rule["message"],
        field="title", on=("create",)),)

    errors = compile_errors(registry, entity("chore", field("title"), validations=[
        rule, {**rule, "field": "titel", "when": {"field": "nope", "op": "eq", "value": 1}},
        {"name": "bad_op", "require": {"field": "title", "op": "gt", "value": []},
         "message": labels()}]))
    find(errors, "chore.json", "/validations/1/name")  # declared twice
    assert "did you mean 'title'" in find(errors, "chore.json", "/validations/1/field").message
    find(errors, "chore.json", "/validations/1/when/field")
    assert any(e.pointer.startswith("/validations/2/require") for e in errors)
