"""Title templates: parsed once by the compiler, placeholders only, every field known."""

from __future__ import annotations

import pytest
from metadata_builders import compile_errors, compiled, entity, field, find

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.titles import (
    TitlePart,
    TitleTemplateError,
    parse_title,
    render_title,
)


def test_a_template_compiles_to_literal_and_field_parts(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity(
        "person", field("first_name"), field("last_name"),
        title="{first_name} {last_name}", title_field="last_name"))

    person = model.entities["person"]
    assert person.title == (TitlePart(field="first_name"), TitlePart(" "),
                            TitlePart(field="last_name"))
    assert person.title_field_names == ("first_name", "last_name")


def test_without_a_template_the_title_field_is_the_title(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity("company", field("name"), title_field="name"))

    assert model.entities["company"].title == (TitlePart(field="name"),)


def test_an_unknown_placeholder_is_an_error_at_the_title(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity(
        "person", field("first_name"), field("last_name"), title="{first_name} {lastname}"))

    assert find(errors, "test/person.json", "/title").message == (
        "unknown field 'lastname' of entity 'person' (did you mean 'last_name'?)")


@pytest.mark.parametrize("template", [
    "{last_name.__class__}", "{last_name!r}", "{last_name:>30}", "{0}", "{}",
    "{last_name[0]}",
])
def test_code_in_a_placeholder_is_refused(registry: FieldTypeRegistry, template: str) -> None:
    errors = compile_errors(registry, entity("person", field("last_name"), title=template))

    assert "must be a field name" in find(errors, "test/person.json", "/title").message


@pytest.mark.parametrize(("template", "reason"), [
    ("{last_name", "unclosed '{' at character 1"),
    ("last_name}", "unmatched '}' at character 10"),
    ("Mr. Nobody", "the title names no field"),
])
def test_malformed_templates_are_refused(registry: FieldTypeRegistry, template: str,
                                         reason: str) -> None:
    errors = compile_errors(registry, entity("person", field("last_name"), title=template))

    assert reason in find(errors, "test/person.json", "/title").message


def test_a_long_text_field_cannot_be_a_title(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity(
        "note", field("subject"), field("body", "textarea"), title="{subject}: {body}"))

    assert "cannot be part of a title" in find(errors, "test/note.json", "/title").message


def test_rendering_fills_placeholders_and_collapses_empty_ones() -> None:
    parts = parse_title("{first_name} {last_name} {{VIP}}")
    values = {"first_name": "", "last_name": "Smith"}

    assert render_title(parts, values.__getitem__) == "Smith {VIP}"
    assert render_title(parse_title("{a} × {b}"), lambda name: "") == ""


def test_parse_errors_name_the_problem() -> None:
    with pytest.raises(TitleTemplateError, match="unclosed"):
        parse_title("{a} {b")
