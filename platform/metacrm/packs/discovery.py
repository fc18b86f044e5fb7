"""Finding packs: folders on disk and pip distributions (the `metacrm.packs` entry points).

Where packs are looked for, first match of a name wins:

1. paths given explicitly (`metacrm pack install PATH`);
2. every pack folder under the METACRM_METADATA_PATH roots (the shipped `metadata/contacts`,
   `metadata/sales`, ...). A folder there without `pack.json` is a pack too — named after
   the folder, version 0.0.0 — so metadata folders written before packs existed still work;
3. pip distributions declaring an entry point in the `metacrm.packs` group: the entry point
   names a module whose folder holds `pack.json` (`vat = "metacrm_vat"`);
4. the folders installed packs came from (so `metacrm pack upgrade` re-reads them);
5. the repository's `extensions/` folder (first-party packs, shaped as a third party's).

A folder given (or found in `extensions/`) may also be a project folder whose one package
holds `pack.json` (`extensions/vat/metacrm_vat/`): the package is the pack folder and the
project folder is where its module is imported from.

A pack folder's documents are `metadata/*.json`, or — without a `metadata/` subfolder —
its own `*.json` files except `pack.json`; its data migrations are `migrations/<version>/`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Literal

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import MANIFEST_FILE, error_summary, read_documents
from metacrm.packs.manifest import PackManifest, read_manifest
from metacrm.resources import folder as resource_folder

ENTRY_POINT_GROUP = "metacrm.packs"
EXTENSIONS_ROOT = resource_folder("extensions")
IMPLICIT_VERSION = "0.0.0"

Origin = Literal["path", "metadata", "distribution", "extensions"]


@dataclass(frozen=True)
class AvailablePack:
    """A pack that could be installed: its manifest and the folder it lives in."""

    manifest: PackManifest
    folder: Path
    origin: Origin

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def import_root(self) -> Path | None:
        """The folder to put on sys.path for the pack's module; None for a distribution
        (its module is installed)."""
        return None if self.origin == "distribution" else import_root_of(self.folder)

    @property
    def source(self) -> str:
        """What the installed-pack store records as where the pack came from."""
        if self.origin == "distribution":
            return f"distribution:{self.folder}"
        return str(self.folder)

    def documents(self) -> list[Document]:
        """The pack's metadata documents, schema-validated, each with `pack` = the pack name;
        MetadataInvalid lists every broken file."""
        return pack_documents(self.folder, self.manifest.name)

    def migrations(self) -> list[tuple[Version, Path]]:
        """`migrations/<version>/` folders, in version order."""
        return migration_folders(self.folder)


def pack_documents(folder: Path, name: str) -> list[Document]:
    """The documents of the pack folder `folder`, as pack `name`."""
    holder = folder / "metadata"
    if holder.is_dir():
        files = sorted(path for path in holder.glob("*.json") if path.is_file())
    else:
        files = sorted(path for path in folder.glob("*.json")
                       if path.is_file() and path.name != MANIFEST_FILE)
    if not files:
        return []
    documents, errors = read_documents(files)
    if errors:
        raise MetadataInvalid(error_summary(errors), errors)
    return [dataclasses.replace(document, pack=name) for document in documents]


def migration_folders(folder: Path) -> list[tuple[Version, Path]]:
    """(version, folder) of every `migrations/<version>/`, in version order."""
    root = folder / "migrations"
    if not root.is_dir():
        return []
    found: list[tuple[Version, Path]] = []
    errors: list[ErrorDetail] = []
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "_")):
            continue
        try:
            found.append((Version(child.name), child))
        except InvalidVersion:
            errors.append(ErrorDetail("a migrations folder is named after the version it "
                                      "upgrades to, such as 1.2.0", "", str(child)))
    if errors:
        raise MetadataInvalid("invalid pack migrations", errors)
    return sorted(found, key=lambda item: item[0])


def import_root_of(folder: Path) -> Path:
    """Where a folder pack's module is imported from: the pack folder itself, or — when the
    pack folder IS the module's package (`extensions/vat/metacrm_vat/` holding pack.json and
    `__init__.py`, the layout a pip distribution ships) — the folder above it."""
    return folder.parent if (folder / "__init__.py").is_file() else folder


def find_pack_folder(path: Path) -> Path:
    """The pack folder at `path`: `path` itself when it holds pack.json, else its one
    sub-folder that does (a distribution's project folder: `extensions/vat` holds
    `metacrm_vat/pack.json`)."""
    if (path / MANIFEST_FILE).is_file() or not path.is_dir():
        return path
    found = sorted(child for child in path.iterdir()
                   if child.is_dir() and (child / MANIFEST_FILE).is_file())
    if len(found) > 1:
        raise MetadataInvalid(f"{path} holds several packs: name one of their folders", [
            ErrorDetail("a pack folder", "", str(child / MANIFEST_FILE)) for child in found])
    return found[0] if found else path


def read_pack_folder(folder: Path, origin: Origin) -> AvailablePack:
    """The pack in `folder` (holding pack.json, or a project folder with one package that
    does); MetadataInvalid for a bad or missing manifest."""
    folder = find_pack_folder(folder)
    return AvailablePack(read_manifest(folder), folder.resolve(), origin)


def implicit_pack(folder: Path) -> AvailablePack:
    """A metadata folder without pack.json, as a pack named after the folder."""
    name = folder.name
    source = str(folder / MANIFEST_FILE)
    label = {"en": name, "ru": name}
    raw = {"name": name, "version": IMPLICIT_VERSION, "label": label}
    manifest = PackManifest(
        name=name, version=Version(IMPLICIT_VERSION), engine=SpecifierSet(),
        depends=MappingProxyType({}), label=MappingProxyType(label),
        description=MappingProxyType({}), settings_schema=MappingProxyType({"type": "object"}),
        permissions=MappingProxyType({}), module=None, raw=MappingProxyType(raw), source=source,
    )
    return AvailablePack(manifest, folder.resolve(), "metadata")


def metadata_path_packs(roots: Iterable[Path]) -> list[AvailablePack]:
    """The packs under METACRM_METADATA_PATH roots. A root is itself a pack when it holds
    pack.json or JSON documents directly; otherwise each sub-folder is one."""
    packs: list[AvailablePack] = []
    for root in roots:
        if not root.is_dir():
            continue
        if (root / MANIFEST_FILE).is_file():
            packs.append(read_pack_folder(root, "metadata"))
        elif any(path.is_file() for path in root.glob("*.json")):
            packs.append(implicit_pack(root))
        else:
            for folder in sorted(root.iterdir()):
                if folder.is_dir() and not folder.name.startswith((".", "_")):
                    packs.append(read_pack_folder(folder, "metadata")
                                 if (folder / MANIFEST_FILE).is_file() else implicit_pack(folder))
    return packs


def folder_packs(root: Path, origin: Origin) -> list[AvailablePack]:
    """Every sub-folder of `root` that is a pack folder or a project folder holding one
    (others are ignored)."""
    if not root.is_dir():
        return []
    return [read_pack_folder(folder, origin) for folder in sorted(root.iterdir())
            if folder.is_dir() and (find_pack_folder(folder) / MANIFEST_FILE).is_file()]


def distribution_packs() -> list[AvailablePack]:
    """Packs of installed pip distributions (`metacrm.packs` entry points)."""
    packs: list[AvailablePack] = []
    errors: list[ErrorDetail] = []
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {entry.name} = {entry.value}"
        try:
            module = importlib.import_module(entry.module)
        except ImportError as exc:
            errors.append(ErrorDetail(f"cannot import the pack's module: {exc}", "", where))
            continue
        folder = _module_folder(module)
        if folder is None or not (folder / MANIFEST_FILE).is_file():
            errors.append(ErrorDetail(f"the module's folder holds no {MANIFEST_FILE}", "", where))
            continue
        pack = read_pack_folder(folder, "distribution")
        if pack.name != entry.name:
            errors.append(ErrorDetail(
                f"the entry point is named {entry.name!r} but its pack.json says "
                f"{pack.name!r}", "/name", str(folder / MANIFEST_FILE)))
            continue
        packs.append(pack)
    if errors:
        raise MetadataInvalid("broken pack distributions", errors)
    return packs


def _module_folder(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else None


def discover(
    metadata_roots: Sequence[Path],
    *,
    paths: Sequence[Path] = (),
    extensions_root: Path | None = EXTENSIONS_ROOT,
    distributions: bool = True,
    installed_from: Sequence[Path] = (),
) -> dict[str, AvailablePack]:
    """Every pack found, by name; the first place (in the order of the module docstring)
    wins when two hold a pack of the same name. `installed_from` are the folders installed
    packs came from (`pack install PATH`), looked at after the distributions, so such a
    pack can be upgraded from its folder."""
    found: dict[str, AvailablePack] = {}
    groups: list[list[AvailablePack]] = [
        [read_pack_folder(path, "path") for path in paths],
        metadata_path_packs(metadata_roots),
        distribution_packs() if distributions else [],
        [read_pack_folder(path, "path") for path in installed_from
         if (path / MANIFEST_FILE).is_file()],
        folder_packs(extensions_root, "extensions") if extensions_root is not None else [],
    ]
    for group in groups:
        for pack in group:
            found.setdefault(pack.name, pack)
    return found
