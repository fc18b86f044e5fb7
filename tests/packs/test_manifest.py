"""pack.json: every problem reported with the file and a JSON Pointer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from metacrm.kernel.errors import MetadataInvalid
from metacrm.packs.manifest import read_manifest
from packs_harness import manifest


def problems(tmp_path: Path, body: Any) -> list[tuple[str, str]]:
    file = tmp_path / "pack.json"
    file.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(MetadataInvalid) as caught:
        read_manifest(tmp_path)
    assert {detail.source for detail in caught.value.errors} == {str(file)}
    return [(detail.pointer, detail.message) for detail in caught.value.errors]


def test_a_valid_manifest_is_parsed_with_versions_and_ranges(tmp_path: Path) -> None:
    body = manifest("vat", "1.2.0", engine=">=0.1,<0.2", depends={"sales": ">=1.0"},
                    settings={"type": "object", "properties": {
                        "rates": {"type": "object", "default": {}},
                        "token": {"type": "string", "writeOnly": True}}},
                    permissions={"deal_line": ["read", "update"]}, module="metacrm_vat")
    (tmp_path / "pack.json").write_text(json.dumps(body), encoding="utf-8")

    parsed = read_manifest(tmp_path)

    assert parsed.version == Version("1.2.0")
    assert Version("0.1.5") in parsed.engine and Version("0.2") not in parsed.engine
    assert Version("1.4") in parsed.depends["sales"]
    assert parsed.permissions == {"deal_line": frozenset({"read", "update"})}
    assert parsed.secret_keys == {"token"}
    assert parsed.setting_defaults == {"rates": {}}


def test_schema_errors_point_at_the_offending_key(tmp_path: Path) -> None:
    body = manifest("Vat", "1.2", permissions={"deal": ["read", "drop"]}, modul="x")

    found = problems(tmp_path, body)

    pointers = [pointer for pointer, _ in found]
    assert pointers == ["", "/name", "/permissions/deal/1", "/version"]
    assert "'modul'" in found[0][1]
    assert "is not a pack name" in found[1][1]
    assert "semantic version" in found[3][1]


def test_ranges_packaging_cannot_parse_are_refused(tmp_path: Path) -> None:
    body = manifest("vat", engine="about 0.1", depends={"sales": ">>1", "vat": ""})

    found = problems(tmp_path, body)

    assert [pointer for pointer, _ in found] == ["/engine", "/depends/sales", "/depends/vat"]
    assert "not a version range" in found[0][1]
    assert found[2][1] == "a pack cannot depend on itself"


def test_settings_schema_must_be_valid_and_secrets_have_no_default(tmp_path: Path) -> None:
    body = manifest("vat", settings={"type": "object", "properties": {
        "rate": {"type": "number", "default": "high"},
        "token": {"type": "string", "writeOnly": True, "default": "abc"}}})

    found = problems(tmp_path, body)

    assert [pointer for pointer, _ in found] == [
        "/settings/properties/rate/default", "/settings/properties/token/default"]
    assert "secret" in found[1][1]


def test_broken_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "pack.json").write_text('{"name": "vat",\n "version": }', encoding="utf-8")

    with pytest.raises(MetadataInvalid) as caught:
        read_manifest(tmp_path)

    assert "line 2" in caught.value.errors[0].message


def test_a_folder_without_a_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MetadataInvalid, match=r"no pack\.json"):
        read_manifest(tmp_path)
