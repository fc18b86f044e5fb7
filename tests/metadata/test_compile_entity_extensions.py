"""Entity extensions: one pack adds fields to another pack's entity."""

from __future__ import annotations

from metadata_builders import compile_errors, compiled, document, entity, field, find

from metacrm.fieldtypes import FieldTypeRegistry


def tax_fields(*fields: dict[str, object], target: str = "deal_line") -> dict[str, object]:
    return document("entity_extension", "vat_deal_line", entity=target,
                    fields=list(fields) or [field("tax_rate", "percent"),
                                            field("tax_amount", "money")])


def test_extension_fields_join_the_entity_after_its_own(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity("deal_line", field("quantity", "integer")), tax_fields())
    line = model.entities["deal_line"]
    assert [f.name for f in line.fields] == ["quantity", "tax_rate", "tax_amount"]
    assert line.field("tax_amount").source.file == "test/vat_deal_line.json"
    assert line.field("tax_amount").source.pointer == "/fields/1"


def test_a_field_clash_names_both_documents(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity("deal_line", field("tax_rate", "percent")),
                            tax_fields(field("tax_rate", "decimal")))
    error = find(errors, "test/vat_deal_line.json", "/fields/0/name")
    assert "duplicate field name 'tax_rate'" in error.message
    assert "/fields/0" in error.message


def test_extending_an_unknown_entity_is_an_error(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity("deal", field("title")),
                            tax_fields(target="deal_lines"))
    assert "unknown entity 'deal_lines'" in find(errors, "test/vat_deal_line.json",
                                                 "/entity").message


def test_extension_fields_are_checked_like_entity_fields(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity("deal_line", field("quantity", "integer")),
                            tax_fields(field("owner", "text")))
    assert "system column" in find(errors, "test/vat_deal_line.json", "/fields/0/name").message


def widen(**targets: list[str]) -> dict[str, object]:
    return document("entity_extension", "call_sales_links", entity="call",
                    regarding_targets=targets)


def call(*entities: str) -> dict[str, object]:
    return entity("call", field("subject"),
                  field("regarding", "regarding", entities=list(entities or ("person",))))


def test_regarding_targets_let_a_regarding_field_link_to_the_packs_entities(
        registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity("person", field("name")), entity("deal", field("title")),
                     call(), widen(regarding=["deal", "person"]))

    assert model.entities["call"].field("regarding").option("entities") == ("person", "deal")


def test_regarding_targets_must_name_a_regarding_field_and_known_entities(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity("person", field("name")), call(),
                            widen(subject=["person"], regarding=["dael"]))

    assert "'subject' is not a regarding field of entity 'call'" in find(
        errors, "test/call_sales_links.json", "/regarding_targets/subject").message
    assert any("unknown entity 'dael'" in e.message for e in errors)
