"""Bulk requests: shape checks and error pointers for batches of up to 1,000 records.

A batch is all or nothing (one transaction). Errors point into the request body:
`/<index>/<field>` for creates; `/<index>/changes/<field>`, `/<index>/id` and
`/<index>/version` for updates (an update item is `{"id", "version"?, "changes"}`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from metacrm.access.scoped_repository import KEEP, Unchanged
from metacrm.kernel.errors import ErrorDetail, MetacrmError, NotFound, ValidationFailed

MAX_BATCH = 1000
OWNER = "owner"


def _check_batch(items: Any) -> Sequence[Any]:
    if isinstance(items, Mapping | str) or not isinstance(items, Sequence):
        raise ValidationFailed("invalid batch", [ErrorDetail("must be a list", "")])
    if len(items) > MAX_BATCH:
        raise ValidationFailed("batch too large", [
            ErrorDetail(f"at most {MAX_BATCH} records per request", "")])
    return items


def parse_creates(payloads: Any) -> list[tuple[dict[str, Any], str | Unchanged]]:
    """Each payload's field values and requested owner (KEEP: none)."""
    errors: list[ErrorDetail] = []
    parsed: list[tuple[dict[str, Any], str | Unchanged]] = []
    for index, payload in enumerate(_check_batch(payloads)):
        if not isinstance(payload, Mapping):
            errors.append(ErrorDetail("must be an object of field values", f"/{index}"))
            continue
        values = dict(payload)
        owner = values.pop(OWNER) if OWNER in values else KEEP
        parsed.append((values, owner))
    if errors:
        raise ValidationFailed("invalid records", errors)
    return parsed


@dataclass(frozen=True, slots=True)
class BatchItem:
    id: str
    version: int | None
    changes: Mapping[str, Any]


def parse_updates(items: Any) -> list[BatchItem]:
    errors: list[ErrorDetail] = []
    parsed: list[BatchItem] = []
    for index, item in enumerate(_check_batch(items)):
        if not isinstance(item, Mapping):
            errors.append(ErrorDetail('must be {"id", "version"?, "changes"}', f"/{index}"))
            continue
        errors.extend(ErrorDetail(f"unknown key {key!r}", f"/{index}/{key}")
                      for key in item if key not in ("id", "version", "changes"))
        record_id, version, changes = item.get("id"), item.get("version"), item.get("changes")
        if isinstance(version, float) and version.is_integer():
            version = int(version)  # JSON numbers: 3.0 is the whole number 3
        if not isinstance(record_id, str) or not record_id:
            errors.append(ErrorDetail("must be a record id", f"/{index}/id"))
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                    or version < 1):
            errors.append(ErrorDetail("must be a positive whole number", f"/{index}/version"))
        if not isinstance(changes, Mapping):
            errors.append(ErrorDetail("must be an object of field values",
                                      f"/{index}/changes"))
        if isinstance(record_id, str) and isinstance(changes, Mapping):
            parsed.append(BatchItem(record_id, version, changes))
    if errors:
        raise ValidationFailed("invalid batch", errors)
    return parsed


def _item_pointer(index: int, pointer: str) -> str:
    if pointer in ("", "/"):
        return f"/{index}"
    if pointer in ("/version", "/id"):
        return f"/{index}{pointer}"
    return f"/{index}/changes{pointer}"


@contextmanager
def at_item(index: int) -> Iterator[None]:
    """Re-raise errors of one update item with pointers into the batch."""
    try:
        yield
    except MetacrmError as exc:
        if isinstance(exc, NotFound) and not exc.errors:
            details = [ErrorDetail(exc.message, f"/{index}/id")]
        else:
            details = [ErrorDetail(e.message, _item_pointer(index, e.pointer), e.source)
                       for e in exc.errors]
        raise type(exc)(f"record {index}: {exc.message}", details) from exc
