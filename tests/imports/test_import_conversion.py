"""Cells into field values: locale numbers and dates, booleans, picklists by value or
label, value tables, states, money with currencies; problems per column."""

from __future__ import annotations

from typing import Any

import pytest

from metacrm.fieldtypes import default_registry
from metacrm.imports.conversion import RowConverter
from metacrm.imports.mapping import parse_mapping
from metacrm.imports.readers import SourceRow
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.model import CompiledModel


def label(en: str, ru: str | None = None) -> dict[str, str]:
    return {"en": en, "ru": ru or en}


def fld(name: str, type_: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": label(name), **options}


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    bodies: list[dict[str, Any]] = [
        {"kind": "entity", "name": "deal", "version": 1, "label": label("Deal"),
         "fields": [
             fld("title", "text"), fld("count", "integer"), fld("rate", "decimal", scale=2),
             fld("share", "percent"), fld("amount", "money", currency="USD",
                                          currencies=["USD", "RUB"]),
             fld("done", "boolean"), fld("due", "date"), fld("at", "datetime"),
             fld("colour", "picklist", choices=[
                 {"value": "red", "label": label("Red", "Красный")},
                 {"value": "blue", "label": label("Blue", "Синий")}]),
             fld("tags", "multi_picklist", choices=[
                 {"value": "a", "label": label("A")}, {"value": "b", "label": label("B")}]),
             fld("stage", "state", pipeline="flow"), fld("meta", "json"),
             fld("helper", "user")]},
        {"kind": "pipeline", "name": "flow", "version": 1, "label": label("Flow"),
         "entity": "deal", "states": [{"name": "open", "label": label("Open", "Открыта")},
                                      {"name": "won", "label": label("Won", "Выиграна")}]},
    ]
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t") for b in bodies]
    return compile_model(documents, default_registry())


def convert(model: CompiledModel, cells: dict[str, str], **mapping: Any) -> Any:
    entity = model.entities["deal"]
    parsed = parse_mapping({"columns": {name: name for name in cells}, **mapping}, entity)
    return RowConverter(model, entity, parsed).convert(SourceRow(2, cells))


def test_english_locale_values(model: CompiledModel) -> None:
    row = convert(model, {"count": "1,200", "rate": "1,234.5", "share": "12.5%",
                          "amount": "USD 99.90", "done": "Yes", "due": "12/31/2024",
                          "at": "12/31/2024 18:30", "colour": "BLUE", "tags": "a; B",
                          "stage": "Won", "meta": '{"k": 1}', "helper": "ann",
                          "title": "  Deal  "}, timezone="Europe/Moscow")

    assert not row.errors
    assert row.values == {
        "count": 1200, "rate": "1234.5", "share": "12.5",
        "amount": {"amount": "99.90", "currency": "USD"}, "done": True, "due": "2024-12-31",
        "at": "2024-12-31T18:30:00+03:00", "colour": "blue", "tags": ["a", "b"],
        "meta": {"k": 1}, "title": "Deal"}
    assert row.states == {"stage": "won"}
    assert row.lookups == {"helper": "ann"}


def test_russian_locale_values_and_labels(model: CompiledModel) -> None:
    row = convert(model, {"rate": "1 234,5", "amount": "1 000,50 RUB", "done": "нет",
                          "due": "31.12.2024", "colour": "Красный", "stage": "Открыта"},
                  locale="ru")

    assert not row.errors
    assert row.values == {"rate": "1234.5", "amount": {"amount": "1000.50",
                                                       "currency": "RUB"},
                          "done": False, "due": "2024-12-31", "colour": "red"}
    assert row.states == {"stage": "open"}


def test_value_tables_map_file_values_first(model: CompiledModel) -> None:
    row = convert(model, {"colour": "crimson", "stage": "Closed Won", "done": "n/a"},
                  values={"colour": {"CRIMSON": "red"}, "stage": {"Closed Won": "won"},
                          "done": {"n/a": None}})

    assert not row.errors
    assert row.values == {"colour": "red"} and row.states == {"stage": "won"}


def test_every_bad_cell_is_reported_with_its_column(model: CompiledModel) -> None:
    row = convert(model, {"count": "1.5", "rate": "abc", "done": "maybe", "due": "31/31/31",
                          "colour": "green", "stage": "lost", "meta": "{"})

    reasons = dict(row.errors)
    assert set(reasons) == {"count", "rate", "done", "due", "colour", "stage", "meta"}
    assert "not a whole number" in reasons["count"]
    assert "'green' is not a value of 'colour' (red, blue)" in reasons["colour"]
    assert "map it in the mapping's values" in reasons["stage"]
    assert row.reason().startswith("count: ")


def test_a_declared_date_format_wins(model: CompiledModel) -> None:
    row = convert(model, {"due": "2024/07/05"}, date_format="%Y/%m/%d")
    assert row.values == {"due": "2024-07-05"}
