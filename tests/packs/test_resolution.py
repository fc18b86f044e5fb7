"""Engine and dependency ranges, cycles and dependents: refusals name both packs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from packaging.version import Version

from metacrm.kernel.errors import Conflict, NotFound
from metacrm.packs.manifest import PackManifest, parse_manifest
from metacrm.packs.resolution import check_uninstall, resolve_changes
from packs_harness import manifest

ENGINE = Version("0.1.0")


def pack(name: str, version: str = "1.0.0", **extra: Any) -> PackManifest:
    return parse_manifest(manifest(name, version, **extra), f"{name}/pack.json")


def resolve(targets: Sequence[PackManifest], available: Sequence[PackManifest] = (),
            installed: Sequence[PackManifest] = ()) -> list[str]:
    changes = resolve_changes(targets, available={m.name: m for m in available},
                              installed={m.name: m for m in installed}, engine=ENGINE)
    return [f"{m.name} {m.version}" for m in changes]


def refusal(targets: Sequence[PackManifest], available: Sequence[PackManifest] = (),
            installed: Sequence[PackManifest] = ()) -> list[str]:
    with pytest.raises(Conflict) as caught:
        resolve(targets, available, installed)
    return [str(detail) for detail in caught.value.errors]


def test_available_dependencies_are_installed_first() -> None:
    contacts, sales = pack("contacts"), pack("sales", depends={"contacts": ">=1.0"})
    tasks = pack("tasks", depends={"sales": ">=1.0", "contacts": ""})

    assert resolve([tasks], available=[contacts, sales, tasks]) == [
        "contacts 1.0.0", "sales 1.0.0", "tasks 1.0.0"]
    assert resolve([tasks], available=[contacts, sales, tasks], installed=[contacts]) == [
        "sales 1.0.0", "tasks 1.0.0"]


def test_an_engine_range_excluding_this_metacrm_is_refused() -> None:
    assert refusal([pack("vat", engine=">=0.2")]) == [
        "vat/pack.json /engine: vat 1.0.0 needs metacrm >=0.2, this is metacrm 0.1.0"]


def test_a_missing_dependency_names_both_packs_and_the_range() -> None:
    assert refusal([pack("vat", depends={"sales": ">=1.0"})]) == [
        "vat/pack.json /depends/sales: vat 1.0.0 needs pack sales >=1.0, but it is neither "
        "installed nor available"]


def test_an_incompatible_dependency_version_is_refused() -> None:
    vat = pack("vat", depends={"sales": ">=2.0,<3"})

    assert refusal([vat], installed=[pack("sales", "1.4.0")]) == [
        "vat/pack.json /depends/sales: vat 1.0.0 needs pack sales <3,>=2.0, but sales 1.4.0 "
        "would be installed"]
    assert refusal([vat], available=[pack("sales", "1.9.0")]) == [
        "vat/pack.json /depends/sales: vat 1.0.0 needs pack sales <3,>=2.0, but sales 1.9.0 "
        "would be installed"]


def test_upgrading_a_pack_must_not_break_the_packs_depending_on_it() -> None:
    vat = pack("vat", depends={"sales": "<2"})

    problems = refusal([pack("sales", "2.0.0")], installed=[pack("sales"), vat])

    assert problems == ["vat/pack.json /depends/sales: vat 1.0.0 needs pack sales <2, but "
                        "sales 2.0.0 would be installed"]


def test_a_dependency_cycle_is_refused() -> None:
    first = pack("first", depends={"second": ""})
    second = pack("second", depends={"first": ""})

    assert refusal([first], available=[second]) == [
        "first/pack.json /depends/second: dependency cycle: first -> second -> first"]


def test_uninstall_is_refused_while_another_pack_depends_on_it() -> None:
    installed = {"sales": pack("sales"), "vat": pack("vat", depends={"sales": ">=1.0"})}

    with pytest.raises(Conflict) as caught:
        check_uninstall("sales", installed)

    assert [str(detail) for detail in caught.value.errors] == [
        "vat/pack.json /depends/sales: vat 1.0.0 depends on sales >=1.0"]
    assert check_uninstall("vat", installed).name == "vat"
    with pytest.raises(NotFound, match="not installed"):
        check_uninstall("tasks", installed)
