"""Record ids: UUIDv7 strings, so ids sort by creation time and B-tree inserts stay local."""

from __future__ import annotations

import uuid6


def new_id() -> str:
    """Return a new time-sortable id (RFC 9562 UUIDv7) in canonical text form."""
    return str(uuid6.uuid7())
