"""Metadata history for the designer: what each version changed, and restoring one.

A version's diff compares its documents with the previous version's, document by document
(added, removed, changed), with a line diff of the pretty-printed JSON — what an admin
reads to see who changed what. Restoring plans the old version's documents as the whole
new model (not merged with the live one), exactly what `MetadataAdmin.restore` applies.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid, NotFound
from metacrm.metadata.documents import Document, plain_json
from metacrm.services.metadata.admin import MAX_VERSION_NUMBER, DryRun
from metacrm.services.metadata.service import MetadataService
from metacrm.storage import metadata_store
from metacrm.storage.metadata_store import StoredVersion

CONTEXT_LINES = 3


@dataclass(frozen=True)
class DiffLine:
    """One line of a document diff: `tag` is "+", "-", " " (context) or "@" (a hunk)."""

    tag: str
    text: str


@dataclass(frozen=True)
class DocumentDiff:
    kind: str
    name: str
    status: str  # "added", "removed" or "changed"
    lines: tuple[DiffLine, ...] = field(default_factory=tuple)


def version(metadata: MetadataService, number: int) -> StoredVersion:
    """Stored version `number` with its documents (NotFound when there is none)."""
    if not 1 <= number <= MAX_VERSION_NUMBER:
        raise NotFound(f"metadata version {number} does not exist")
    with metadata.engine.connect() as connection:
        return metadata_store.get(connection, number)


def version_diff(metadata: MetadataService, number: int
                 ) -> tuple[StoredVersion, list[DocumentDiff]]:
    """Version `number` and how its documents differ from version `number - 1`'s."""
    new = version(metadata, number)
    old = version(metadata, number - 1).documents if number > 1 else ()
    return new, diff_documents(old, new.documents)


def pretty(body: Mapping[str, Any]) -> list[str]:
    """A document as indented JSON lines (key order as written)."""
    return json.dumps(plain_json(body), indent=2, ensure_ascii=False).splitlines()


def diff_documents(old: Sequence[Document], new: Sequence[Document]) -> list[DocumentDiff]:
    """Added, removed and changed documents, by kind and name; unchanged ones are left out."""
    before = {(d.kind, d.name): d for d in old}
    after = {(d.kind, d.name): d for d in new}
    result: list[DocumentDiff] = []
    for key in sorted(set(before) | set(after)):
        kind, name = key
        if key not in before:
            lines = tuple(DiffLine("+", line) for line in pretty(after[key].body))
            result.append(DocumentDiff(kind, name, "added", lines))
        elif key not in after:
            lines = tuple(DiffLine("-", line) for line in pretty(before[key].body))
            result.append(DocumentDiff(kind, name, "removed", lines))
        else:
            old_lines, new_lines = pretty(before[key].body), pretty(after[key].body)
            if old_lines != new_lines:
                result.append(DocumentDiff(kind, name, "changed",
                                           tuple(line_diff(old_lines, new_lines))))
    return result


def line_diff(old: Sequence[str], new: Sequence[str]) -> list[DiffLine]:
    """A unified diff (3 lines of context) as tagged lines, without the file headers."""
    lines: list[DiffLine] = []
    for line in difflib.unified_diff(old, new, lineterm="", n=CONTEXT_LINES):
        if line.startswith(("---", "+++")):
            continue
        tag = "@" if line.startswith("@@") else line[:1]
        lines.append(DiffLine(tag, line if tag == "@" else line[1:]))
    return lines


def plan_restore(metadata: MetadataService, number: int) -> DryRun:
    """What restoring version `number` would do to the live database; changes nothing."""
    stored = version(metadata, number)
    live = metadata.live().number
    try:
        report = metadata.plan(stored.documents)
    except MetadataInvalid as exc:
        return DryRun(live, exc.errors or (ErrorDetail(exc.message),))
    return DryRun(report.live_version, (), report.unchanged, report.plan)
