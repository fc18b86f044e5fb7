"""The compiled model as a value: checksum, immutability, what load_model returns."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from metadata_builders import as_documents, compiled, document, entity, field, write_pack

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.kernel.errors import MetadataInvalid
from metacrm.metadata.compiler import compile_model, load_model
from metacrm.metadata.documents import Document


def test_checksum_depends_on_content_not_on_order_or_key_order(
    registry: FieldTypeRegistry
) -> None:
    deal = entity("deal", field("title"))
    reordered = dict(reversed(list(deal.items())))
    view = document("view", "v", entity="deal", type="list", columns=["title"])

    first = compile_model(as_documents(deal, view), registry)
    second = compile_model(as_documents(view, reordered), registry)
    changed = compile_model(as_documents(entity("deal", field("title", max_length=9)), view),
                            registry)

    assert first.checksum == second.checksum
    assert len(first.checksum) == 64
    assert changed.checksum != first.checksum


def test_checksum_ignores_file_paths_but_not_packs(registry: FieldTypeRegistry) -> None:
    body = entity("deal")
    here = Document.from_body(body, source="/a/sales/deal.json", pack="sales")
    there = Document.from_body(body, source="/b/sales/deal.json", pack="sales")
    elsewhere = Document.from_body(body, source="/a/custom/deal.json", pack="custom")

    checksums = {compile_model([d], registry).checksum for d in (here, there)}

    assert len(checksums) == 1
    assert compile_model([elsewhere], registry).checksum not in checksums


def test_definitions_are_frozen(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity("deal", field("title")))

    with pytest.raises(dataclasses.FrozenInstanceError):
        model.entities["deal"].name = "lead"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.entities["lead"] = model.entities["deal"]  # type: ignore[index]


def test_definitions_remember_their_pack_and_file(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, entity("deal"),
                     document("view", "v", entity="deal", type="list", columns=["title"]))

    assert (model.entities["deal"].pack, model.entities["deal"].source.file) == (
        "test", "test/deal.json")
    assert model.views["v"].source.file == "test/v.json"


def test_load_model_reads_and_compiles_packs(
    registry: FieldTypeRegistry, tmp_path: Path
) -> None:
    write_pack(tmp_path, "contacts", {"company.json": entity("company", field("name"))})
    write_pack(tmp_path, "sales", {"deal.json": entity(
        "deal", field("company", "reference", entity="company", on_delete="cascade"))})

    model = load_model([tmp_path], registry)

    assert sorted(model.entities) == ["company", "deal"]
    assert model.entities["deal"].fields[0].target_entity == "company"
    assert model.entities["deal"].pack == "sales"


def test_load_model_reports_broken_files_and_the_others_problems_together(
    registry: FieldTypeRegistry, tmp_path: Path
) -> None:
    write_pack(tmp_path, "sales", {
        "company.json": "{",
        "deal.json": entity("deal", field("company", "reference", entity="company"),
                            field("size", "integr")),
    })

    with pytest.raises(MetadataInvalid) as caught:
        load_model([tmp_path], registry)

    # no "unknown entity 'company'": the company document is the broken one
    assert [(Path(e.source).name, e.pointer, e.message) for e in caught.value.errors] == [
        ("company.json", "", "invalid JSON at line 1, column 2: Expecting property name "
                             "enclosed in double quotes"),
        ("deal.json", "/fields/1/type", "unknown field type 'integr' (did you mean 'integer'?)"),
    ]
