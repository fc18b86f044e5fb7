"""Loading packs from disk: discovery, JSON parsing, schema validation, all errors at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from metadata_builders import entity, field, labels, write_pack

from metacrm.kernel.errors import MetadataInvalid
from metacrm.metadata.loader import load_documents, split_search_path


def load_errors(*paths: Path, relative_to: Path | None = None) -> list[str]:
    """The errors as printed (`file pointer: reason`), files relative to `relative_to`."""
    with pytest.raises(MetadataInvalid) as caught:
        load_documents(list(paths))
    prefix = f"{relative_to}{os.sep}" if relative_to else ""
    return [str(error).removeprefix(prefix) for error in caught.value.errors]


def test_packs_are_the_folders_of_a_root_and_documents_their_json_files(tmp_path: Path) -> None:
    write_pack(tmp_path, "contacts", {"person.json": entity("person")})
    write_pack(tmp_path, "sales", {"deal.json": entity("deal"), "README.md": "not metadata"})

    documents = load_documents([tmp_path])

    assert [(d.kind, d.name, d.pack) for d in documents] == [
        ("entity", "person", "contacts"), ("entity", "deal", "sales")]
    assert documents[0].source == str(tmp_path / "contacts" / "person.json")
    assert documents[0].body["fields"][0]["name"] == "title"


def test_several_roots_and_a_pack_folder_or_single_file_may_be_given(tmp_path: Path) -> None:
    base = write_pack(tmp_path / "base", "contacts", {"person.json": entity("person")})
    extra = write_pack(tmp_path / "ext", "extra", {"ticket.json": entity("ticket")})

    from_roots = load_documents([tmp_path / "base", tmp_path / "ext"])
    from_pack_and_file = load_documents([extra, base / "person.json"])

    assert {d.name for d in from_roots} == {"person", "ticket"}
    assert [(d.name, d.pack) for d in from_pack_and_file] == [
        ("ticket", "extra"), ("person", "contacts")]


def test_a_file_reached_through_two_paths_is_loaded_once(tmp_path: Path) -> None:
    pack = write_pack(tmp_path, "contacts", {"person.json": entity("person")})

    assert len(load_documents([tmp_path, pack])) == 1


def test_search_path_is_split_like_path(tmp_path: Path) -> None:
    value = os.pathsep.join(["metadata", str(tmp_path), ""])

    assert split_search_path(value) == [Path("metadata"), tmp_path]


def test_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    assert load_errors(missing) == [f"{missing}: no such file or folder"]


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    pack = write_pack(tmp_path, "sales", {"deal.json": '{\n  "kind": "entity",\n  "name": }'})

    errors = load_errors(tmp_path)

    assert errors == [f"{pack / 'deal.json'}: invalid JSON at line 3, column 11: "
                      "Expecting value"]


def test_duplicate_keys_are_errors_with_their_pointer(tmp_path: Path) -> None:
    text = ('{"kind": "entity", "name": "deal", "version": 1, "label": {"en": "D", "ru": "Д"},'
            ' "fields": [{"name": "a", "type": "text", "type": "integer",'
            ' "label": {"en": "A", "ru": "А"}}]}')
    write_pack(tmp_path, "sales", {"deal.json": text})

    errors = load_errors(tmp_path)

    assert len(errors) == 1
    assert errors[0].endswith("deal.json /fields/0/type: duplicate key 'type' "
                              "(JSON would keep only the last value)")


def test_document_must_be_an_object_of_a_known_kind(tmp_path: Path) -> None:
    write_pack(tmp_path, "p", {"a.json": [1, 2], "b.json": {"kind": "widget", "name": "w"},
                               "c.json": {"name": "x"}})

    errors = load_errors(tmp_path, relative_to=tmp_path / "p")

    assert errors == [
        "a.json: a metadata document must be a JSON object, got array",
        'b.json /kind: "widget" is not a document kind: expected one of entity, '
        "entity_extension, pipeline, role, role_grant, trigger, view, report, conversion, "
        "business_calendar, document_template, duplicate_rule, dashboard, sla_policy, web_form",
        "c.json: missing required property 'kind'",
    ]


def test_every_error_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write_pack(tmp_path, "sales", {
        "broken.json": "{",
        "deal.json": entity("deal", field("amount", "money", lenght=3)),
        "lead.json": {**entity("lead"), "version": 2, "label": {"en": "Lead"}},
        "fine.json": entity("fine"),
    })

    errors = load_errors(tmp_path, relative_to=tmp_path / "sales")

    assert errors == [
        "broken.json: invalid JSON at line 1, column 2: Expecting property name enclosed in "
        "double quotes",
        "deal.json /fields/0/lenght: unknown property 'lenght'",
        "lead.json /version: 2 is not allowed here: expected 1",
        "lead.json /label: missing required property 'ru'",
    ]


def test_error_summary_counts_errors_and_files(tmp_path: Path) -> None:
    write_pack(tmp_path, "p", {"a.json": "[", "b.json": {"kind": "entity"}})

    with pytest.raises(MetadataInvalid) as caught:
        load_documents([tmp_path])

    assert caught.value.message.startswith("invalid metadata: ")
    assert "in 2 files" in caught.value.message
    assert caught.value.status == 422


def test_labels_may_hold_more_languages_than_en_and_ru(tmp_path: Path) -> None:
    body = entity("deal")
    body["label"] = {**labels(), "de": "Ding", "pt-BR": "Coisa"}
    write_pack(tmp_path, "p", {"deal.json": body})

    assert load_documents([tmp_path])[0].body["label"]["de"] == "Ding"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, "p", {})
    (folder / "deal.json").write_bytes(b"\xef\xbb\xbf" + b'{"kind": "entity", "name": "deal", '
                                       b'"version": 1, "label": {"en": "D", "ru": "D"}, '
                                       b'"fields": [{"name": "a", "type": "text", '
                                       b'"label": {"en": "A", "ru": "A"}}]}')

    assert load_documents([tmp_path])[0].name == "deal"


def test_text_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, "p", {})
    (folder / "deal.json").write_bytes(b'{"name": "\xff"}')

    assert load_errors(tmp_path) == [f"{folder / 'deal.json'}: not UTF-8 text (byte 10)"]
