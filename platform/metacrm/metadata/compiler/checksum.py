"""The checksum of a set of documents: equal checksums mean an equal compiled model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from metacrm.metadata.documents import Document


def documents_checksum(documents: Iterable[Document]) -> str:
    """sha256 of the canonical JSON of the documents sorted by kind and name.

    The pack is part of it (definitions carry their pack); file paths are not, so the same
    metadata checked out elsewhere has the same checksum.
    """
    canonical = [
        {"kind": d.kind, "name": d.name, "pack": d.pack, "body": d.body}
        for d in sorted(documents, key=lambda d: (d.kind, d.name, d.pack))
    ]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_mapping)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mapping(value: object) -> object:
    """Bodies may hold read-only mappings (MappingProxyType); serialise them as objects."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
