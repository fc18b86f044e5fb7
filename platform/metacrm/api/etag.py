"""Entity tags of records and the conditional headers that use them.

A record's ETag is the strong tag `"<id>:<version>"`: the version is the optimistic lock
the repository checks, and the id keeps tags of different records apart. Strong, because
RFC 9110 compares `If-Match` strongly — a weak tag could never match. A weak `W/"..."`
form of the same tag is accepted too (lenient clients send what they received through
caches that weaken tags).

* `If-Match` on PATCH/DELETE -> `expected_version(...)`: the version the write must find,
  None for `*` or no header; a tag of another record answers 412 straight away;
* `If-None-Match` on GET -> `matches_none(...)` false means "answer 304".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from metacrm.kernel.errors import ErrorDetail, StaleRecord, ValidationFailed

_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')
MAX_HEADER_LENGTH = 4096


def record_etag(record: Mapping[str, Any]) -> str:
    """The ETag header value of a record (it must carry `id` and `version`)."""
    return f'"{record["id"]}:{record["version"]}"'


def parse_tags(header: str, name: str) -> list[str] | None:
    """The opaque tags of an If-Match / If-None-Match header; None for `*`."""
    if len(header) > MAX_HEADER_LENGTH:
        raise _malformed(name, "is too long")
    if header.strip() == "*":
        return None
    tags: list[str] = []
    position = 0
    text = header.strip()
    while position < len(text):
        match = _TAG.match(text, position)
        if match is None:
            raise _malformed(name, 'must be "*" or a list of entity tags such as "<id>:<version>"')
        tags.append(match.group(1))
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise _malformed(name, "entity tags must be separated by commas")
            position += 1
    if not tags:
        raise _malformed(name, "names no entity tag")
    return tags


def expected_version(header: str | None, record_id: str) -> int | None:
    """The version an `If-Match` header requires of record `record_id` (None: any).

    StaleRecord (412) when no listed tag belongs to this record: it cannot match.
    """
    if header is None:
        return None
    tags = parse_tags(header, "If-Match")
    if tags is None:
        return None
    versions = {_version_of(tag, record_id) for tag in tags}
    versions.discard(None)
    if not versions:
        raise StaleRecord(
            f"If-Match names no version of record {record_id}; read it again for its ETag",
            [ErrorDetail("does not match the record's ETag", "/If-Match", "header")],
        )
    if len(versions) > 1:
        raise _malformed("If-Match", "names more than one version of the record")
    (version,) = versions
    return version


def matches_none(header: str | None, record: Mapping[str, Any]) -> bool:
    """True unless `If-None-Match` names the record's current tag (then answer 304)."""
    if header is None:
        return True
    tags = parse_tags(header, "If-None-Match")
    if tags is None:
        return False
    return record_etag(record).strip('"') not in tags


def _version_of(tag: str, record_id: str) -> int | None:
    identifier, _, version = tag.rpartition(":")
    if identifier != record_id or not version.isascii() or not version.isdigit():
        return None
    number = int(version)
    return number if 1 <= number < 2**63 else None


def _malformed(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"invalid {name} header", [ErrorDetail(message, f"/{name}", "header")])
