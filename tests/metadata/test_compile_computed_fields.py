"""Formula and rollup fields compile to stored fields of their result type; circles of
computed fields are compile errors naming the circle."""

from __future__ import annotations

from metadata_builders import compile_errors, compiled, entity, field, find

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.model import FormulaDef, RollupDef


def line_entity(*extra: dict[str, object]) -> dict[str, object]:
    return entity(
        "line",
        field("sale", "reference", entity="sale", on_delete="cascade"),
        field("quantity", "decimal"),
        field("price", "money", currency="USD"),
        field("total", "formula", result="money", currency="USD",
              expression="quantity * price"),
        *extra,
    )


def sale_entity(*extra: dict[str, object]) -> dict[str, object]:
    return entity(
        "sale", field("title"),
        field("amount", "rollup", result="money", currency="USD",
              rollup={"entity": "line", "via": "sale", "aggregate": "sum", "field": "total"}),
        field("lines", "rollup", result="integer",
              rollup={"entity": "line", "via": "sale", "aggregate": "count",
                      "filter": {"field": "quantity", "op": "gt", "value": 0}}),
        *extra,
    )


def test_formula_and_rollup_fields_compile_to_read_only_fields_of_their_result_type(
        registry: FieldTypeRegistry) -> None:
    model = compiled(registry, line_entity(), sale_entity())
    total = model.entities["line"].field("total")
    assert total is not None and total.type == "money" and total.read_only
    assert isinstance(total.computed, FormulaDef)
    assert total.computed.names == ("quantity", "price")
    amount = model.entities["sale"].field("amount")
    assert amount is not None and amount.type == "money" and amount.read_only
    assert amount.computed == RollupDef(entity="line", via="sale", aggregate="sum",
                                        field="total")
    assert "contains" not in amount.operators and "gt" in amount.operators


def test_a_formula_reads_fields_of_referenced_records(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, line_entity(
        field("list_total", "formula", result="money", currency="USD",
              expression="sale.amount * 2")), sale_entity())
    formula = model.entities["line"].field("list_total")
    assert formula is not None and isinstance(formula.computed, FormulaDef)
    assert formula.computed.paths == (("sale", "amount"),)


def test_unknown_names_and_paths_are_errors_at_the_expression(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, line_entity(
        field("bad", "formula", result="decimal", expression="quantty * 2"),
        field("worse", "formula", result="decimal", expression="sale.nothing + quantity"),
        field("broken", "formula", result="decimal", expression="quantity *"),
    ), sale_entity())
    assert "quantity" in find(errors, "line.json", "/fields/4/expression").message
    assert "'nothing' is not a field of 'sale'" in find(
        errors, "line.json", "/fields/5/expression").message
    assert "syntax error" in find(errors, "line.json", "/fields/6/expression").message


def test_a_result_type_is_required_and_a_computed_field_takes_no_default(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, line_entity(
        field("nothing", "formula", expression="quantity"),
        field("defaulted", "formula", result="decimal", expression="quantity", default="1"),
    ), sale_entity())
    assert "result" in find(errors, "line.json", "/fields/4/result").message
    assert "'default' does not apply" in find(errors, "line.json", "/fields/5/default").message


def test_rollups_name_a_reference_back_and_a_summable_field(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, line_entity(), entity(
        "sale", field("title"),
        field("wrong_via", "rollup", result="integer",
              rollup={"entity": "line", "via": "quantity", "aggregate": "count"}),
        field("text_sum", "rollup", result="decimal",
              rollup={"entity": "line", "via": "sale", "aggregate": "sum", "field": "sale"}),
        field("bad_filter", "rollup", result="integer",
              rollup={"entity": "line", "via": "sale", "aggregate": "count",
                      "filter": {"field": "nope", "op": "eq", "value": 1}}),
    ))
    assert "not a reference of 'line' to 'sale'" in find(
        errors, "sale.json", "/fields/1/rollup/via").message
    assert "cannot sum" in find(errors, "sale.json", "/fields/2/rollup/field").message
    assert any(e.pointer.startswith("/fields/3/rollup/filter") for e in errors)


def test_a_circle_of_computed_fields_is_an_error_naming_it(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, line_entity(
        field("share", "formula", result="decimal", expression="sale.weighted"),
    ), sale_entity(
        field("weighted", "rollup", result="decimal",
              rollup={"entity": "line", "via": "sale", "aggregate": "sum",
                      "field": "share"}),
    ))
    circles = [e for e in errors if "circle" in e.message]
    assert len(circles) == 1, errors
    assert "line.share -> sale.weighted -> line.share" in circles[0].message


def test_a_formula_reading_itself_is_a_circle(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity(
        "thing", field("a", "formula", result="integer", expression="b + 1"),
        field("b", "formula", result="integer", expression="a + 1")))
    circle = next(e for e in errors if "circle" in e.message)
    assert "thing.a -> thing.b -> thing.a" in circle.message
    assert circle.pointer == "/fields/0"


def price_list_entities() -> tuple[dict[str, object], ...]:
    return (
        entity("tariff", field("name"), field("currency", "text"),
               field("valid_from", "date"), field("valid_to", "date"),
               field("active", "boolean")),
        entity("tariff_item", field("tariff", "reference", entity="tariff"),
               field("price", "money", currency="USD")),
        entity("sale", field("title"), field("tariff", "reference", entity="tariff")),
    )


def priced(valid: dict[str, object]) -> dict[str, object]:
    return field("price", "money", currency="USD", default_lookup={
        "entity": "tariff_item", "match": {"tariff": "sale.tariff"}, "field": "price",
        "valid": valid})


def test_a_lookup_default_compiles_its_validity(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity(
        "line", field("sale", "reference", entity="sale", on_delete="cascade"),
        priced({"record": "sale.tariff", "from": "valid_from", "to": "valid_to",
                "active": "active", "currency": "currency", "on": "sale.created_at"})),
        *price_list_entities())
    price = model.entities["line"].field("price")
    assert price is not None and price.default_lookup is not None
    valid = price.default_lookup.valid
    assert valid is not None
    assert (valid.record, valid.valid_from, valid.valid_to, valid.active, valid.currency,
            valid.on) == ("sale.tariff", "valid_from", "valid_to", "active", "currency",
                          "sale.created_at")


def test_a_lookup_validity_names_fields_that_exist_with_fitting_types(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity(
        "line", field("sale", "reference", entity="sale", on_delete="cascade"),
        field("quantity", "decimal"),
        priced({"record": "sale.title", "from": "valid_from"}),
        field("other", "money", currency="USD", default_lookup={
            "entity": "tariff_item", "match": {"tariff": "sale.tariff"}, "field": "price",
            "valid": {"record": "sale.tariff", "from": "name", "active": "nope",
                      "on": "sale.nothing"}})),
        *price_list_entities())
    where = "/fields/2/default_lookup/valid"
    assert "does not name a reference" in find(errors, "line.json", f"{where}/record").message
    where = "/fields/3/default_lookup/valid"
    assert "'name' is not a date field" in find(errors, "line.json", f"{where}/from").message
    assert "'nope' is not a boolean field" in find(
        errors, "line.json", f"{where}/active").message
    assert "is not a date" in find(errors, "line.json", f"{where}/on").message
