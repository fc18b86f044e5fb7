"""Import mappings: checks with pointers, suggestions from names and en/ru labels."""

from __future__ import annotations

from typing import Any

import pytest

from metacrm.fieldtypes import default_registry
from metacrm.imports.mapping import parse_mapping, suggest_mapping
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.model import EntityDef


def label(en: str, ru: str) -> dict[str, str]:
    return {"en": en, "ru": ru}


@pytest.fixture(scope="module")
def person() -> EntityDef:
    bodies: list[dict[str, Any]] = [
        {"kind": "entity", "name": "company", "version": 1, "label": label("Company", "К"),
         "title_field": "name",
         "fields": [{"name": "name", "type": "text", "label": label("Name", "Название")}]},
        {"kind": "entity", "name": "person", "version": 1, "label": label("Person", "Л"),
         "fields": [
             {"name": "first_name", "type": "text", "label": label("First name", "Имя")},
             {"name": "email", "type": "email", "label": label("Email", "Эл. почта")},
             {"name": "number", "type": "auto_number", "label": label("No", "№"),
              "prefix": "P-", "digits": 4},
             {"name": "company", "type": "reference", "label": label("Company", "Компания"),
              "entity": "company"},
         ]},
    ]
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t") for b in bodies]
    return compile_model(documents, default_registry()).entities["person"]


def test_columns_are_suggested_from_names_and_labels_in_both_languages(
        person: EntityDef) -> None:
    suggested = suggest_mapping(person, ["First Name", "ЭЛ. ПОЧТА", "компания", "№",
                                         "Ответственный", "Notes", "e-mail"])

    assert suggested["columns"] == {
        "First Name": "first_name", "ЭЛ. ПОЧТА": "email", "компания": "company",
        "№": None, "Ответственный": "owner", "Notes": None, "e-mail": None}


def test_a_mapping_is_checked_against_the_entity_and_the_file(person: EntityDef) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_mapping({"columns": {"Name": "frist_name", "Mail": "email", "No": "number",
                                   "Other": "email"},
                       "references": {"email": {"by": "name"}},
                       "locale": "de", "timezone": "Mars/Olympus", "extra": 1},
                      person, ["Name", "Mail", "No", "Other"])

    found = {(e.pointer, e.message.split(";")[0]) for e in caught.value.errors}
    assert ("/mapping/columns/Name", "'person' has no field 'frist_name'") in found
    assert any("did you mean 'first_name'" in e.message for e in caught.value.errors)
    assert ("/mapping/columns/No", "field 'number' is filled by the engine") in found
    assert ("/mapping/columns/Other",
            "field 'email' is already filled from column 'Mail'") in found
    pointers = {e.pointer for e in caught.value.errors}
    assert {"/mapping/references/email", "/mapping/locale", "/mapping/timezone",
            "/mapping/extra"} <= pointers


def test_a_column_the_file_lacks_is_named(person: EntityDef) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_mapping({"columns": {"Frist": "first_name"}}, person, ["First"])
    assert "the file has no column 'Frist'; did you mean 'First'?" in str(caught.value)


def test_a_valid_mapping_round_trips(person: EntityDef) -> None:
    raw = {"columns": {"A": "first_name", "B": "company", "C": "owner", "D": None},
           "values": {"owner": {"Ann": "ann"}},
           "references": {"company": {"by": "name", "create_missing": True}},
           "owner": {"by": "username"}, "locale": "ru", "date_format": "%d/%m/%Y",
           "timezone": "Europe/Moscow"}
    mapping = parse_mapping(raw, person, ["A", "B", "C", "D"])

    assert mapping.fields() == ("first_name", "company", "owner")
    assert parse_mapping(mapping.to_json(), person) == mapping
