"""Read metadata packs from disk: folders of JSON documents, one document a file.

A *pack root* (an entry of METACRM_METADATA_PATH, e.g. the repository's `metadata/`) holds
pack folders; a *pack* is a folder of `*.json` files, named after the folder (its manifest
`pack.json` is not a document: see `metacrm.packs`). A path given
here may also be a pack folder itself (it holds `*.json` files directly) or a single JSON file,
so that `metacrm metadata validate metadata/sales/deal.json` works.

Every file is parsed and validated against its kind's schema before anything is returned, and
every problem of every file is collected: the caller gets all of them in one MetadataInvalid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.metadata.documents import Document
from metacrm.metadata.schema_errors import json_pointer
from metacrm.metadata.schemas import SCHEMA_DIR
from metacrm.metadata.validation import validate_body

MANIFEST_FILE = "pack.json"
"""A pack's manifest (`metacrm.packs.manifest`), not a metadata document."""


def split_search_path(value: str) -> list[Path]:
    """METACRM_METADATA_PATH's value -> pack roots (separated like PATH: `:` or `;`)."""
    return [Path(part) for part in value.split(os.pathsep) if part.strip()]


def load_documents(paths: Sequence[Path], *, schema_dir: Path = SCHEMA_DIR) -> list[Document]:
    """Every document of every pack under `paths`, parsed and schema-validated.

    Raises MetadataInvalid listing every error of every file (invalid JSON with line and
    column, schema violations with JSON Pointers); returns only when all files are valid.
    """
    documents, errors = read_documents(paths, schema_dir=schema_dir)
    if errors:
        raise MetadataInvalid(error_summary(errors), errors)
    return documents


def read_documents(
    paths: Sequence[Path], *, schema_dir: Path = SCHEMA_DIR
) -> tuple[list[Document], list[ErrorDetail]]:
    """The valid documents under `paths` and the errors of the others (never raises)."""
    files, errors = find_document_files(paths)
    documents: list[Document] = []
    for path, pack in files:
        body, problems = read_json(path)
        if not problems:
            problems = validate_body(body, str(path), schema_dir)
        if problems:
            errors.extend(problems)
            continue
        documents.append(Document.from_body(body, source=str(path), pack=pack))
    return documents, errors


def validate_documents(documents: Iterable[Document], *, schema_dir: Path = SCHEMA_DIR) -> None:
    """Schema-validate documents that did not come from files (in memory, from the database);
    raises MetadataInvalid with every error."""
    errors: list[ErrorDetail] = []
    for document in documents:
        errors.extend(validate_body(document.body, document.source, schema_dir))
        if document.body.get("kind") != document.kind or document.body.get("name") != document.name:
            errors.append(ErrorDetail(
                f"the document is registered as {document.kind} {document.name!r} but its body "
                "says otherwise", "", document.source))
    if errors:
        raise MetadataInvalid(error_summary(errors), errors)


def find_document_files(paths: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[ErrorDetail]]:
    """(file, pack name) of every document under `paths`, in a stable order, and the paths
    that do not exist or are not metadata."""
    found: list[tuple[Path, str]] = []
    errors: list[ErrorDetail] = []
    seen: set[Path] = set()

    def add(files: Iterable[Path], pack: str) -> None:
        for file in sorted(files):
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.append((file, pack))

    for root in paths:
        if root.is_file() and root.name == MANIFEST_FILE:
            continue
        if root.is_file():
            if root.suffix == ".json":
                add([root], root.parent.name)
            else:
                errors.append(ErrorDetail("not a JSON document (*.json)", source=str(root)))
        elif root.is_dir():
            direct = [file for file in root.glob("*.json")
                      if file.is_file() and file.name != MANIFEST_FILE]
            if direct:
                add(direct, root.name)
                continue
            for pack in sorted(root.iterdir()):
                if pack.is_dir() and not pack.name.startswith((".", "_")):
                    add((file for file in pack.glob("*.json")
                         if file.is_file() and file.name != MANIFEST_FILE), pack.name)
        else:
            errors.append(ErrorDetail("no such file or folder", source=str(root)))
    return found, errors


def read_json(path: Path) -> tuple[Any, list[ErrorDetail]]:
    """Parse one JSON file; errors name the line and column, or the duplicated key."""
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        return None, [ErrorDetail(f"cannot read the file: {exc.strerror or exc}", "", source)]
    except UnicodeDecodeError as exc:
        return None, [ErrorDetail(f"not UTF-8 text (byte {exc.start})", "", source)]
    return parse_json(text, source)


def parse_json(text: str, source: str) -> tuple[Any, list[ErrorDetail]]:
    """Parse JSON text strictly: duplicate keys in an object are errors, not silently lost."""
    duplicates: list[tuple[dict[str, Any], list[str]]] = []

    def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        repeated: list[str] = []
        for key, value in pairs:
            if key in obj:
                repeated.append(key)
            obj[key] = value
        if repeated:
            duplicates.append((obj, repeated))
        return obj

    try:
        value = json.loads(text, object_pairs_hook=collect)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return None, [ErrorDetail(message, "", source)]
    except RecursionError:
        return None, [ErrorDetail("invalid JSON: nested too deeply", "", source)]
    if not duplicates:
        return value, []
    pointers = _pointers_of_objects(value)
    errors = [
        ErrorDetail(f"duplicate key '{key}' (JSON would keep only the last value)",
                    pointers.get(id(obj), "") + json_pointer([key]), source)
        for obj, keys in duplicates
        for key in keys
    ]
    return value, errors


def _pointers_of_objects(value: Any, pointer: str = "") -> dict[int, str]:
    """id(object) -> JSON Pointer, for every object (dict) within `value`."""
    found: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(value, pointer)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            found[id(node)] = where
            stack.extend((child, where + json_pointer([key])) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, where + json_pointer([index])) for index, child in enumerate(node))
    return found


def error_summary(errors: Sequence[ErrorDetail]) -> str:
    """`invalid metadata: 3 errors in 2 files` — the headline of a MetadataInvalid."""
    files = len({error.source for error in errors})
    return (f"invalid metadata: {len(errors)} error{'s' if len(errors) != 1 else ''} in "
            f"{files} file{'s' if files != 1 else ''}")
