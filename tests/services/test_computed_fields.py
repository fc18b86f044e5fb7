"""Formula and rollup fields through the records service: stored, recomputed in the
change's transaction when their inputs change, read-only to clients, hidden with what they
read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from records_world import World, entity, field, role

from metacrm.automation.formulas import Formulas
from metacrm.computed.dependents import ComputedDependents
from metacrm.computed.evaluate import Evaluator
from metacrm.computed.saves import ComputedSaves, LookupDefaults
from metacrm.kernel.errors import ValidationFailed

MONEY = {"currency": "USD", "currencies": ["USD", "EUR"]}

BODIES: list[dict[str, Any]] = [
    entity("product", field("name", "text", required=True),
           field("list_price", "money", **MONEY), field("cost", "money", **MONEY)),
    entity("price_list", field("name", "text")),
    entity("price_item",
           field("price_list", "reference", entity="price_list", on_delete="cascade"),
           field("product", "reference", entity="product", on_delete="cascade"),
           field("price", "money", **MONEY)),
    entity(
        "sale", field("title", "text"),
        field("price_list", "reference", entity="price_list", on_delete="set_null"),
        field("amount", "rollup", result="money", manual_when_empty=True, **MONEY,
              rollup={"entity": "sale_line", "via": "sale", "aggregate": "sum",
                      "field": "total"}),
        field("lines", "rollup", result="integer",
              rollup={"entity": "sale_line", "via": "sale", "aggregate": "count"}),
        field("big_lines", "rollup", result="integer",
              rollup={"entity": "sale_line", "via": "sale", "aggregate": "count",
                      "filter": {"field": "quantity", "op": "gte", "value": 10}}),
        field("largest", "rollup", result="money", **MONEY,
              rollup={"entity": "sale_line", "via": "sale", "aggregate": "max",
                      "field": "total"}),
        field("with_tax", "formula", result="money", **MONEY, expression="amount * 1.2"),
    ),
    entity(
        "sale_line",
        field("sale", "reference", entity="sale", on_delete="cascade"),
        field("product", "reference", entity="product", on_delete="restrict"),
        field("quantity", "decimal", precision=12, scale=3, default="1"),
        field("unit_price", "money", **MONEY, default_lookup={
            "entity": "price_item", "field": "price",
            "match": {"price_list": "sale.price_list", "product": "product"}}),
        field("discount", "percent"),
        field("total", "formula", result="money", **MONEY,
              expression="quantity * unit_price * (1 - (discount or 0) / 100)"),
        field("margin", "formula", result="money", **MONEY,
              expression="unit_price - product.cost"),
        field("label", "formula", result="text", expression="product.name ~ ' x ' ~ quantity"),
    ),
    role("rep", entities={
        name: {"read": "all", "create": "all", "update": "all", "delete": "all"}
        for name in ("sale", "sale_line", "price_list", "price_item")
    } | {"product": {"read": "all", "fields": {"cost": "hidden"}}}),
    role("admin", admin=True),
]


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    world = World(engine, BODIES)
    evaluator = Evaluator(Formulas(world.registry))
    world.records.defaults = LookupDefaults(world.records)
    world.records.computed = ComputedSaves(world.records, evaluator)
    world.records.listeners.insert(0, ComputedDependents(world.records, evaluator))
    yield world


def make(world: World, entity_name: str, **values: Any) -> dict[str, Any]:
    return world.records.create(world.admin, entity_name, values)


@pytest.fixture
def catalog(world: World) -> dict[str, Any]:
    widget = make(world, "product", name="Widget", list_price=usd("10.00"),
                  cost=usd("6.00"))
    gadget = make(world, "product", name="Gadget", list_price=usd("25.00"),
                  cost=usd("20.00"))
    prices = make(world, "price_list", name="2026")
    make(world, "price_item", price_list=prices["id"], product=widget["id"],
         price=usd("9.50"))
    return {"widget": widget, "gadget": gadget, "prices": prices}


def get(world: World, entity_name: str, record_id: str) -> dict[str, Any]:
    return world.records.get(world.admin, entity_name, record_id)


def test_a_line_total_is_computed_and_the_sale_amount_sums_the_lines(
        world: World, catalog: dict[str, Any]) -> None:
    sale = make(world, "sale", title="Big one")
    line = make(world, "sale_line", sale=sale["id"], product=catalog["widget"]["id"],
                quantity="3", unit_price=usd("10.00"), discount="10")
    assert line["total"] == usd("27.00")
    assert line["margin"] == usd("4.00")
    assert line["label"] == "Widget x 3.000"
    make(world, "sale_line", sale=sale["id"], product=catalog["gadget"]["id"],
         quantity="12", unit_price=usd("25.00"))
    stored = get(world, "sale", sale["id"])
    assert stored["amount"] == usd("327.00")
    assert stored["lines"] == 2 and stored["big_lines"] == 1
    assert stored["largest"] == usd("300.00")
    assert stored["with_tax"] == usd("392.40")


def test_changing_moving_and_deleting_lines_keeps_the_rollups_up_to_date(
        world: World, catalog: dict[str, Any]) -> None:
    first, second = make(world, "sale", title="A"), make(world, "sale", title="B")
    line = make(world, "sale_line", sale=first["id"], product=catalog["widget"]["id"],
                quantity="2", unit_price=usd("10.00"))
    world.records.update(world.admin, "sale_line", line["id"], {"quantity": "5"})
    assert get(world, "sale", first["id"])["amount"] == usd("50.00")
    world.records.update(world.admin, "sale_line", line["id"], {"sale": second["id"]})
    assert get(world, "sale", first["id"])["amount"] == usd("0.00")
    assert get(world, "sale", first["id"])["lines"] == 0
    assert get(world, "sale", second["id"])["amount"] == usd("50.00")
    world.records.delete(world.admin, "sale_line", line["id"])
    assert get(world, "sale", second["id"])["amount"] == usd("0.00")
    assert get(world, "sale", second["id"])["largest"] is None


def test_a_referenced_record_change_recomputes_the_formulas_reading_it(
        world: World, catalog: dict[str, Any]) -> None:
    sale = make(world, "sale", title="A")
    line = make(world, "sale_line", sale=sale["id"], product=catalog["widget"]["id"],
                quantity="2", unit_price=usd("10.00"))
    world.records.update(world.admin, "product", catalog["widget"]["id"],
                         {"cost": usd("7.50"), "name": "Widget II"})
    stored = get(world, "sale_line", line["id"])
    assert stored["margin"] == usd("2.50") and stored["label"] == "Widget II x 2.000"


def test_the_unit_price_defaults_from_the_price_list_of_the_sale(
        world: World, catalog: dict[str, Any]) -> None:
    sale = make(world, "sale", title="Listed", price_list=catalog["prices"]["id"])
    line = make(world, "sale_line", sale=sale["id"], product=catalog["widget"]["id"],
                quantity="2")
    assert line["unit_price"] == usd("9.50") and line["total"] == usd("19.00")
    unlisted = make(world, "sale_line", sale=sale["id"], product=catalog["gadget"]["id"])
    assert unlisted["unit_price"] is None and unlisted["total"] is None
    given = make(world, "sale_line", sale=sale["id"], product=catalog["widget"]["id"],
                 unit_price=usd("8.00"))
    assert given["unit_price"] == usd("8.00")


@pytest.mark.parametrize(("entity_name", "name", "value"), [
    ("sale_line", "total", usd("1.00")), ("sale", "lines", 3), ("sale", "with_tax", usd("1")),
])
def test_clients_cannot_write_computed_fields(
        world: World, catalog: dict[str, Any], entity_name: str, name: str,
        value: Any) -> None:
    sale = make(world, "sale", title="A")
    values = ({"sale": sale["id"], "product": catalog["widget"]["id"]}
              if entity_name == "sale_line" else {"title": "x"})
    with pytest.raises(ValidationFailed) as refused:
        world.records.create(world.admin, entity_name, {**values, name: value})
    assert [e.pointer for e in refused.value.errors] == [f"/{name}"]
    assert "read-only" in refused.value.errors[0].message


def test_a_manual_amount_is_kept_until_the_sale_has_lines(
        world: World, catalog: dict[str, Any]) -> None:
    sale = make(world, "sale", title="Manual", amount=usd("1000.00"))
    assert sale["amount"] == usd("1000.00")
    world.records.update(world.admin, "sale", sale["id"], {"amount": usd("1200.00")})
    make(world, "sale_line", sale=sale["id"], product=catalog["widget"]["id"],
         unit_price=usd("10.00"))
    assert get(world, "sale", sale["id"])["amount"] == usd("10.00")
    with pytest.raises(ValidationFailed) as refused:
        world.records.update(world.admin, "sale", sale["id"], {"amount": usd("5.00")})
    assert refused.value.errors[0].pointer == "/amount"


def test_a_failing_formula_refuses_the_save_naming_the_field(
        world: World, catalog: dict[str, Any]) -> None:
    sale = make(world, "sale", title="A")
    free = make(world, "product", name="Free sample")  # no cost: the margin stays empty
    line = make(world, "sale_line", sale=sale["id"], product=free["id"],
                unit_price=usd("10.00"))
    with pytest.raises(ValidationFailed) as refused:  # a EUR line in a USD sale
        make(world, "sale_line", sale=sale["id"], product=free["id"],
             unit_price={"amount": "10.00", "currency": "EUR"})
    assert refused.value.errors[0].pointer == "/amount"
    assert "several currencies" in refused.value.errors[0].message
    assert get(world, "sale", sale["id"])["lines"] == 1  # nothing half-applied
    assert get(world, "sale_line", line["id"])["total"] == usd("10.00")


def test_a_formula_over_a_field_a_role_cannot_see_is_hidden_from_it(
        world: World, catalog: dict[str, Any]) -> None:
    rep = world.subject("rep1", ("rep",))
    sale = world.records.create(rep, "sale", {"title": "Rep's"})
    line = world.records.create(rep, "sale_line", {
        "sale": sale["id"], "product": catalog["widget"]["id"], "unit_price": usd("10.00")})
    assert "margin" not in line and line["total"] == usd("10.00")
    assert "margin" not in world.records.get(rep, "sale_line", line["id"])
    assert get(world, "sale_line", line["id"])["margin"] == usd("4.00")
    assert "cost" not in world.records.get(rep, "product", catalog["widget"]["id"])



def test_lines_older_than_the_total_formula_still_count_in_the_amount(
        world: World, catalog: dict[str, Any]) -> None:
    sale = make(world, "sale", title="Old")
    old = make(world, "sale_line", sale=sale["id"], product=catalog["widget"]["id"],
                quantity="2", unit_price=usd("10.00"))
    lines = world.records.runtime().system.table("sale_line")
    with world.engine.begin() as conn:  # as stored before the formula existed
        conn.execute(sa.update(lines).values(total=None, total_currency=None))
    assert get(world, "sale_line", old["id"])["total"] is None

    make(world, "sale_line", sale=sale["id"], product=catalog["gadget"]["id"],
         unit_price=usd("25.00"))

    assert get(world, "sale_line", old["id"])["total"] == usd("20.00")
    assert get(world, "sale", sale["id"])["amount"] == usd("45.00")


def test_lines_added_at_once_by_two_writers_all_count(
        world: World, catalog: dict[str, Any]) -> None:
    sale = make(world, "sale", title="Busy")
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def add_lines() -> None:
        try:
            start.wait()
            for _ in range(4):
                make(world, "sale_line", sale=sale["id"], product=catalog["widget"]["id"],
                     unit_price=usd("10.00"))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=add_lines) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    stored = get(world, "sale", sale["id"])
    assert (stored["lines"], stored["amount"]) == (8, usd("80.00"))
