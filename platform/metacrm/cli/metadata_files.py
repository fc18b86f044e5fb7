"""Admins' customisations as files: what `metacrm metadata export` writes and
`metacrm metadata plan|apply --customisations` reads.

A folder holds `customisations.json` (the format, the metadata version it was exported from
and the documents admins removed) and one file per added or changed document,
`<kind>/<name>.json`, holding the whole document as it is live — so a reviewer reads plain
metadata, and the diff of two exports in version control is the change itself.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.metadata.documents import KINDS, Document
from metacrm.metadata.layers import Customisation, DocumentKey
from metacrm.metadata.loader import error_summary, read_json
from metacrm.metadata.validation import validate_body
from metacrm.storage.metadata_store import document_to_json

MANIFEST = "customisations.json"
FORMAT = 1
EXPORT_PACK = "customisations"
"""The pack name documents read from an export carry (they belong to no pack)."""


@dataclass(frozen=True)
class ExportedCustomisations:
    documents: tuple[Document, ...]
    removed: tuple[DocumentKey, ...]


def write_customisations(directory: Path, changes: Sequence[Customisation],
                         live: Mapping[DocumentKey, Document], *, version: int) -> int:
    """Write `changes` into `directory` (created; a previous export there is replaced, any
    other content refused); the number of document files written."""
    _prepare(directory)
    written = 0
    removed = []
    for change in changes:
        if change.change == "removed":
            removed.append({"kind": change.kind, "name": change.name, "pack": change.pack})
            continue
        document = live[(change.kind, change.name)]
        path = directory / change.kind / f"{change.name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(document_to_json(document)["body"], indent=2,
                                   ensure_ascii=False) + "\n", encoding="utf-8")
        written += 1
    manifest = {"format": FORMAT, "metadata_version": version, "removed": removed}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    return written


def read_customisations(directory: Path) -> ExportedCustomisations:
    """The documents and removals of an export; MetadataInvalid names every bad file."""
    manifest_path = directory / MANIFEST
    errors: list[ErrorDetail] = []
    if not manifest_path.is_file():
        raise MetadataInvalid(
            f"{directory} is not an export of customisations (no {MANIFEST})",
            [ErrorDetail(f"missing; write one with `metacrm metadata export {directory}`",
                         "", str(manifest_path))])
    manifest, problems = read_json(manifest_path)
    errors.extend(problems)
    removed: list[DocumentKey] = []
    if not problems:
        removed, problems = _removals(manifest, str(manifest_path))
        errors.extend(problems)
    documents: list[Document] = []
    for path in sorted(directory.glob("*/*.json")):
        body, problems = read_json(path)
        if not problems:
            problems = validate_body(body, str(path))
        if not problems and (body["kind"] != path.parent.name or body["name"] != path.stem):
            problems = [ErrorDetail(
                f"the file says {body['kind']} {body['name']!r}; its place says "
                f"{path.parent.name} {path.stem!r}", "", str(path))]
        if problems:
            errors.extend(problems)
            continue
        documents.append(Document.from_body(body, source=str(path), pack=EXPORT_PACK))
    if errors:
        raise MetadataInvalid(error_summary(errors), errors)
    return ExportedCustomisations(tuple(documents), tuple(removed))


def _removals(manifest: object, source: str) -> tuple[list[DocumentKey], list[ErrorDetail]]:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return [], [ErrorDetail(f"not a customisations manifest of format {FORMAT}", "/format",
                                source)]
    removed: list[DocumentKey] = []
    errors: list[ErrorDetail] = []
    items = manifest.get("removed", [])
    if not isinstance(items, list):
        return [], [ErrorDetail("must be a list", "/removed", source)]
    for index, item in enumerate(items):
        if not (isinstance(item, dict) and item.get("kind") in KINDS
                and isinstance(item.get("name"), str)):
            errors.append(ErrorDetail("must be an object with a known kind and a name",
                                      f"/removed/{index}", source))
            continue
        removed.append((item["kind"], item["name"]))
    return removed, errors


def _prepare(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MANIFEST).is_file():
            raise MetadataInvalid(
                f"{directory} is not empty and holds no earlier export; choose another folder",
                [ErrorDetail("not empty", "", str(directory))])
        for child in directory.iterdir():
            if child.is_dir() and child.name in KINDS:
                shutil.rmtree(child)
        (directory / MANIFEST).unlink()
    directory.mkdir(parents=True, exist_ok=True)

