"""Record ids: UUIDv7 strings, so ids sort by creation time and B-tree inserts stay local."""

from __future__ import annotations

import re

import uuid6

ID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
"""How an id is written (a UUID); the OpenAPI document states it for every id parameter."""


def looks_like_id(text: str) -> bool:
    """Whether `text` is written as an id (a UUID); anything else names nothing."""
    return re.fullmatch(ID_PATTERN, text) is not None


def new_id() -> str:
    """Return a new time-sortable id (RFC 9562 UUIDv7) in canonical text form."""
    return str(uuid6.uuid7())


def first_id_at(moment_ms: int) -> str:
    """The smallest id `new_id` can make at Unix time `moment_ms` (milliseconds): every id
    made earlier sorts below it, so "older than" is a primary-key range, not a scan."""
    if not 0 <= moment_ms < 1 << 48:
        raise ValueError(f"{moment_ms} is outside UUIDv7's 48-bit millisecond range")
    digits = f"{moment_ms:012x}"
    return f"{digits[:8]}-{digits[8:]}-7000-8000-000000000000"
