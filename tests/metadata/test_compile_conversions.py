"""Conversion documents: what compiles, and every bad mapping reported with its pointer."""

from __future__ import annotations

from typing import Any

import pytest
from metadata_builders import (
    compile_errors,
    compiled,
    document,
    entity,
    field,
    find,
    labels,
    pipeline,
    transition,
)

from metacrm.fieldtypes import FieldTypeRegistry

CHOICES = [{"value": "web", "label": labels("Web")}, {"value": "fair", "label": labels("Fair")}]


def lead(*extra: dict[str, Any]) -> dict[str, Any]:
    return entity(
        "lead",
        field("last_name", required=True), field("company_name"), field("email", "email"),
        field("number", "auto_number", prefix="L-"), field("score", "integer"),
        field("origin", "picklist", choices=CHOICES),
        field("status", "state", pipeline="lead_flow"),
        field("converted_person", "reference", entity="person", read_only=True),
        *extra,
    )


def model_documents(*conversions: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        lead(),
        pipeline("lead_flow", "lead", ["new", "converted"],
                 [transition("convert", ["new"], "converted")]),
        entity("company", field("name", required=True), field("size", "integer"),
               field("data", "json"), field("code", "auto_number", prefix="C-")),
        entity("person", field("last_name", required=True), field("email", "email"),
               field("company", "reference", entity="company"),
               field("origin", "picklist", choices=CHOICES[:1]),
               field("notes", "textarea", read_only=True)),
        *conversions,
    ]


def conversion(*targets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = document("conversion", "lead_conversion", source="lead", transition="convert",
                    targets=list(targets) or [COMPANY, PERSON])
    return {**body, **extra}


COMPANY = {"name": "company", "entity": "company", "optional": True, "match": [["name"]],
           "fields": {"name": "company_name"}, "constants": {"size": 10}}
PERSON = {"name": "person", "entity": "person", "match": [["email"], ["last_name", "company"]],
          "fields": {"last_name": "last_name", "email": "email", "owner": "owner"},
          "links": {"company": "company"}}


def errors_of(registry: FieldTypeRegistry, *bodies: dict[str, Any]) -> Any:
    return compile_errors(registry, *model_documents(*bodies))


def test_a_conversion_compiles_into_the_model(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, *model_documents(
        conversion(source_links={"converted_person": "person"})))

    found = model.conversions["lead_conversion"]
    assert (found.entity, found.transition) == ("lead", "convert")
    assert [t.name for t in found.targets] == ["company", "person"]
    company, person = found.targets
    assert (company.optional, person.optional) == (True, False)
    assert company.constants == {"size": 10}
    assert person.links == {"company": "company"}
    assert person.match == (("email",), ("last_name", "company"))
    assert found.source_links == {"converted_person": "person"}
    assert found.target("person") is person and found.target("deal") is None


def test_source_and_transition_must_exist(registry: FieldTypeRegistry) -> None:
    errors = errors_of(registry, conversion(source="leed", transition="convert"),
                       {**conversion(transition="convrt"), "name": "second"})

    assert find(errors, "lead_conversion.json", "/source").message == (
        "unknown entity 'leed' (did you mean 'lead'?)")
    assert find(errors, "second.json", "/transition").message == (
        "unknown transition 'convrt' of entity 'lead' (did you mean 'convert'?)")


def test_the_source_needs_a_pipeline(registry: FieldTypeRegistry) -> None:
    errors = errors_of(registry, conversion(source="company"))

    assert "has no pipeline" in find(errors, "lead_conversion.json", "/transition").message


def test_targets_are_unique_and_name_entities(registry: FieldTypeRegistry) -> None:
    errors = errors_of(registry, conversion(
        COMPANY, {**COMPANY, "entity": "compny"}, {"name": "x", "entity": "nothing"}))

    assert find(errors, "lead_conversion.json", "/targets/1/name").message == (
        "duplicate target name 'company'")
    assert find(errors, "lead_conversion.json", "/targets/2/entity").message == (
        "unknown entity 'nothing'")


@pytest.mark.parametrize(("mapping", "pointer", "message"), [
    ({"fields": {"nme": "company_name"}}, "/targets/0/fields/nme",
     "unknown field 'nme' of entity 'company' (did you mean 'name'?)"),
    ({"fields": {"name": "company"}}, "/targets/0/fields/name",
     "unknown field 'company' of entity 'lead' (did you mean 'company_name'?)"),
    ({"fields": {"size": "company_name"}}, "/targets/0/fields/size",
     "field 'size' (integer) cannot take the value of 'company_name' (text)"),
    ({"fields": {"code": "number"}}, "/targets/0/fields/code",
     "field 'code' (auto_number) is set by the engine"),
    ({"fields": {"name": "company_name"}, "constants": {"name": "Acme"}},
     "/targets/0/constants/name", "field 'name' already gets a value from fields"),
    ({"constants": {"size": "many"}}, "/targets/0/constants/size",
     "the constant does not fit field 'size': "),
    ({"constants": {"size": None}}, "/targets/0/constants/size",
     "a constant needs a value; leave the field out instead"),
    ({"fields": {"owner": "score"}}, "/targets/0/fields/owner",
     "the owner takes a user; field 'score' (integer) holds none"),
    ({"match": [["data"]], "fields": {"data": "score"}}, "/targets/0/match/0/0",
     "field 'data' (json) cannot be matched on"),
    ({"match": [["size"]]}, "/targets/0/match/0/0",
     "field 'size' gets no value from this target's fields, constants or links, so it never "
     "matches"),
    ({"match": [["name", "sise"]], "fields": {"name": "company_name"}}, "/targets/0/match/0/1",
     "unknown field 'sise' of entity 'company' (did you mean 'size'?)"),
])
def test_bad_mappings_are_pointed_at(
    registry: FieldTypeRegistry, mapping: dict[str, Any], pointer: str, message: str
) -> None:
    target = {"name": "company", "entity": "company", **mapping}

    errors = errors_of(registry, conversion(target))

    assert find(errors, "lead_conversion.json", pointer).message.startswith(message)


@pytest.mark.parametrize(("person", "pointer", "message"), [
    ({"links": {"company": "deal"}}, "/targets/1/links/company",
     "'deal' is not a target declared before this one"),
    ({"links": {"email": "company"}}, "/targets/1/links/email",
     "field 'email' (email) is not a reference field, which a link needs"),
    ({"fields": {"origin": "origin"}}, "/targets/1/fields/origin",
     "field 'origin' has no choice 'fair' of 'origin'"),
    ({"fields": {"notes": "company_name"}}, "/targets/1/fields/notes",
     "field 'notes' is read-only; a conversion writes as the user who converts"),
])
def test_bad_links_and_values_of_a_later_target(
    registry: FieldTypeRegistry, person: dict[str, Any], pointer: str, message: str
) -> None:
    later = {"name": "person", "entity": "person", "fields": {"last_name": "last_name"},
             **person}

    errors = errors_of(registry, conversion(COMPANY, later))

    assert find(errors, "lead_conversion.json", pointer).message == message


def test_a_link_must_reach_the_referenced_entity(registry: FieldTypeRegistry) -> None:
    other = {"name": "other", "entity": "person", "fields": {"last_name": "last_name"}}
    person = {**PERSON, "links": {"company": "other"}}

    errors = errors_of(registry, conversion(other, person))

    assert find(errors, "lead_conversion.json", "/targets/1/links/company").message == (
        "field 'company' refers to entity 'company', but target 'other' is a 'person'")


@pytest.mark.parametrize(("links", "message"), [
    ({"last_name": "person"},
     "field 'last_name' (text) is not a reference field, which a link needs"),
    ({"converted_person": "company"},
     "field 'converted_person' refers to entity 'person', but target 'company' is a "
     "'company'"),
    ({"converted_person": "persn"}, "unknown target 'persn' (did you mean 'person'?)"),
])
def test_source_links_must_fit(
    registry: FieldTypeRegistry, links: dict[str, str], message: str
) -> None:
    errors = errors_of(registry, conversion(source_links=links))

    pointer = f"/source_links/{next(iter(links))}"
    assert find(errors, "lead_conversion.json", pointer).message == message


def test_the_schema_refuses_unknown_keys_and_empty_targets(
    registry: FieldTypeRegistry,
) -> None:
    body = conversion()
    body["targets"] = []
    body["targets_extra"] = 1

    errors = errors_of(registry, body)

    assert find(errors, "lead_conversion.json", "/targets")
    assert find(errors, "lead_conversion.json", "/targets_extra")
