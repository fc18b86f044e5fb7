"""Metadata documents as they come out of the loader: validated JSON, not yet compiled.

A document is one JSON file of a pack. Documents are what the metadata store keeps per
version and what the compiler turns into the immutable `CompiledModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS: tuple[str, ...] = ("entity", "entity_extension", "pipeline", "role", "role_grant",
                          "trigger", "view",
                          "report", "conversion", "business_calendar", "document_template",
                          "duplicate_rule", "dashboard", "sla_policy", "web_form")
"""Every document kind; each has its schema `schemas/<kind>.schema.json`."""


@dataclass(frozen=True, slots=True)
class Document:
    """One metadata document: its kind and name, its JSON body, where it came from.

    `source` is the file path (or another label for documents that did not come from a file,
    such as a metadata version stored in the database); `pack` is the pack (folder) name.
    """

    kind: str
    name: str
    body: Mapping[str, Any]
    source: str
    pack: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any], *, source: str, pack: str) -> Document:
        """A document from a body that carries its own `kind` and `name`."""
        return cls(kind=str(body["kind"]), name=str(body["name"]), body=body, source=source,
                   pack=pack)


def plain_json(value: Any) -> Any:
    """A JSON-equal copy made of plain dicts and lists (document bodies may hold read-only
    mappings and tuples), for storing, comparing and diffing bodies."""
    if isinstance(value, Mapping):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    return value
