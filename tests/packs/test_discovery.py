"""Finding packs: metadata roots, explicit folders, pip distributions (entry points)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from metacrm.kernel.errors import MetadataInvalid
from metacrm.packs.discovery import discover
from metacrm.settings import DEFAULT_METADATA_PATH
from packs_harness import entity, installed_distribution, manifest, write_pack


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[Path]:
    with installed_distribution(tmp_path / "site", "crm_vat_pack", "2.1.0",
                                entity("vat_rate")) as module:
        yield module


def test_a_pip_distribution_is_found_through_its_entry_point(distribution: Path,
                                                             tmp_path: Path) -> None:
    found = discover([], extensions_root=None)

    pack = found["crm_vat_pack"]
    assert (pack.origin, str(pack.manifest.version)) == ("distribution", "2.1.0")
    assert pack.folder == distribution.resolve()
    assert pack.import_root is None
    assert [(d.kind, d.name, d.pack) for d in pack.documents()] == [
        ("entity", "vat_rate", "crm_vat_pack")]


def test_an_entry_point_whose_pack_has_another_name_is_refused(distribution: Path) -> None:
    body = json.loads((distribution / "pack.json").read_text())
    (distribution / "pack.json").write_text(json.dumps({**body, "name": "other"}))

    with pytest.raises(MetadataInvalid) as caught:
        discover([], extensions_root=None)

    assert caught.value.errors[0].pointer == "/name"
    assert "'crm_vat_pack'" in caught.value.errors[0].message


def test_metadata_roots_hold_manifest_and_plain_pack_folders(tmp_path: Path) -> None:
    write_pack(tmp_path / "roots", manifest("billing"), entity("invoice"))
    legacy = tmp_path / "roots" / "legacy"
    legacy.mkdir()
    (legacy / "thing.json").write_text(json.dumps(entity("thing")), encoding="utf-8")

    found = discover([tmp_path / "roots"], extensions_root=None, distributions=False)

    assert {name: str(pack.manifest.version) for name, pack in found.items()} == {
        "billing": "1.0.0", "legacy": "0.0.0"}
    assert [d.name for d in found["legacy"].documents()] == ["thing"]


def test_an_explicit_folder_wins_over_a_pack_of_the_same_name(tmp_path: Path) -> None:
    write_pack(tmp_path / "roots", manifest("billing"))
    newer = write_pack(tmp_path / "elsewhere", manifest("billing", "1.1.0"))

    found = discover([tmp_path / "roots"], paths=[newer], extensions_root=None,
                     distributions=False)

    assert (found["billing"].origin, str(found["billing"].manifest.version)) == ("path",
                                                                                  "1.1.0")


def test_the_shipped_packs_have_manifests_and_ordered_dependencies() -> None:
    found = discover([DEFAULT_METADATA_PATH], extensions_root=None, distributions=False)

    assert {name: pack.origin for name, pack in found.items()} == {
        "activities": "metadata", "contacts": "metadata", "email": "metadata",
        "knowledge": "metadata", "marketing": "metadata", "sales": "metadata",
        "service": "metadata", "tasks": "metadata"}
    assert set(found["service"].manifest.depends) == {"contacts"}
    assert set(found["knowledge"].manifest.depends) == {"service"}
    assert set(found["email"].manifest.depends) == {"contacts", "sales"}
    assert set(found["marketing"].manifest.depends) == {"contacts", "sales", "email"}
    assert set(found["sales"].manifest.depends) == {"contacts", "tasks", "activities"}
    assert set(found["activities"].manifest.depends) == {"contacts", "tasks"}
    assert set(found["tasks"].manifest.depends) == {"contacts"}
    assert all("pack.json" not in d.source for p in found.values() for d in p.documents())


def test_extensions_hold_pack_folders_or_projects_with_one_pack_package(tmp_path: Path) -> None:
    write_pack(tmp_path / "extensions", manifest("plain"))
    package = write_pack(tmp_path / "extensions" / "vat", manifest("vat", module="crm_vat"))
    package.rename(tmp_path / "extensions" / "vat" / "crm_vat")
    (tmp_path / "extensions" / "vat" / "crm_vat" / "__init__.py").write_text("")
    (tmp_path / "extensions" / "notes").mkdir()  # not a pack: ignored

    found = discover([], extensions_root=tmp_path / "extensions", distributions=False)

    assert {name: pack.origin for name, pack in found.items()} == {
        "plain": "extensions", "vat": "extensions"}
    assert found["vat"].import_root == (tmp_path / "extensions" / "vat").resolve()
    assert found["plain"].import_root == (tmp_path / "extensions" / "plain").resolve()
