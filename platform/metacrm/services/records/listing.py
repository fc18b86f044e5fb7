"""Pages of records as the API returns them, and referenced records fetched inline.

`include=<reference field>` brings the referenced records along: one batched query per
field, through the scoped repository of the target entity — records the caller may not read
are simply absent, hidden fields are stripped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import FieldDef
from metacrm.services.records.json_values import RecordJson

Included = dict[str, dict[str, dict[str, Any]]]
"""Include field name -> referenced record id -> record (JSON form)."""

MAX_INCLUDES = 10


@dataclass(frozen=True)
class RecordPage:
    """One page of a list: records (JSON form), the cursor of the next page, the count of
    all matching records (exact up to 1,000, else `count_is_estimate`), included records."""

    records: list[dict[str, Any]]
    next_cursor: str | None
    count: int
    count_is_estimate: bool
    included: Included = field(default_factory=dict)


def include_fields(scoped: ScopedRepository, entity: str, include: Any) -> list[FieldDef]:
    """The reference fields named by `include`; 422 (`/include/<i>`) for anything else —
    a hidden field is answered like an unknown one."""
    if not include:
        return []
    if isinstance(include, str) or not isinstance(include, Sequence):
        raise ValidationFailed("invalid include", [
            ErrorDetail("must be a list of reference field names", "/include")])
    visible = scoped.policy.visible_entity(scoped.subject, entity)
    errors: list[ErrorDetail] = []
    found: dict[str, FieldDef] = {}
    if len(include) > MAX_INCLUDES:
        errors.append(ErrorDetail(f"at most {MAX_INCLUDES} fields", "/include"))
    for index, name in enumerate(include):
        fdef = visible.field(name) if isinstance(name, str) else None
        if fdef is None or fdef.type != "reference" or fdef.target_entity is None:
            errors.append(ErrorDetail(f"{name!r} is not a reference field of {entity!r}",
                                      f"/include/{index}"))
        else:
            found[fdef.name] = fdef
    if errors:
        raise ValidationFailed("invalid include", errors)
    return list(found.values())


def with_include_fields(
    fields: Sequence[str] | None, includes: Iterable[FieldDef]
) -> Sequence[str] | None:
    """The fields to read: the requested ones plus the included references."""
    if fields is None or isinstance(fields, str) or not isinstance(fields, Sequence):
        return fields
    wanted = list(fields)
    wanted.extend(f.name for f in includes if f.name not in wanted)
    return wanted


def fetch_included(
    conn: sa.Connection,
    scoped: ScopedRepository,
    json: RecordJson,
    includes: Iterable[FieldDef],
    records: Sequence[Mapping[str, Any]],
) -> Included:
    """The referenced records of each include field that the caller may read."""
    included: Included = {}
    for fdef in includes:
        target = str(fdef.target_entity)
        ids = {r.get(fdef.name) for r in records} - {None}
        found = scoped.fetch(conn, target, ids) if ids else {}
        included[fdef.name] = {
            record_id: json.record(target, record) for record_id, record in found.items()
        }
    return included
