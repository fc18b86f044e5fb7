"""Find the existing record a conversion target should reuse instead of making a duplicate.

A target's `match` lists name fields; the record matches one list when it equals the values
the conversion would give on every field of the list. Text, email and URL compare ignoring
case (the same case folding list filters use, `criteria.casefold`); values are compared in
their normalised form (an email's domain lower-cased, a phone in E.164), so what the
conversion would store is what is compared. Empty values never match, and only records the
caller may read are candidates — a list naming a field hidden from the caller is not used,
so matching reveals nothing the caller could not see. Of several matching records the
oldest wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.criteria.casefold import fold_case
from metacrm.metadata.model import EntityDef
from metacrm.storage.record_codec import NORMALIZE_ERRORS, Record

CASE_FOLDED_TYPES = frozenset({"text", "email", "url"})
OLDEST_FIRST = ("created_at",)


def find_match(
    conn: sa.Connection, scoped: ScopedRepository, entity: EntityDef,
    match: Sequence[Sequence[str]], values: Mapping[str, Any],
) -> Record | None:
    """The oldest readable record equal to `values` on every field of the first list that
    finds one (hidden fields stripped), or None."""
    if not match or not scoped.scope(entity.name, "read").allowed:
        return None
    hidden = scoped.field_access(entity.name).hidden
    for fields in match:
        if any(name in hidden for name in fields):
            continue
        condition = _equal_to(scoped, entity, fields, values)
        if condition is None:
            continue
        scope = scoped.condition(entity.name, "read")
        if scope is not None:
            condition = sa.and_(condition, scope)
        page = scoped.repository.query(
            conn, entity.name, where=condition, sort=OLDEST_FIRST, limit=1,
            fields=scoped.visible_fields(entity.name, None))
        if page.records:
            return page.records[0]
    return None


def _equal_to(
    scoped: ScopedRepository, entity: EntityDef, fields: Sequence[str],
    values: Mapping[str, Any],
) -> sa.ColumnElement[bool] | None:
    """The SQL condition "equal on every field", or None when a value is empty or invalid."""
    table = scoped.repository.table(entity.name)
    conditions: list[sa.ColumnElement[bool]] = []
    for name in fields:
        fdef = entity.field(name)
        raw = values.get(name)
        if fdef is None or raw is None:
            return None
        field_type = scoped.registry.get(fdef.type)
        try:
            value = field_type.normalize(fdef, raw)
        except NORMALIZE_ERRORS:
            return None  # creating the record will report the value
        stored = field_type.to_storage(fdef, value).get(name) if value is not None else None
        if stored is None or stored == "":
            return None
        column = table.c[name]
        if fdef.type in CASE_FOLDED_TYPES and isinstance(stored, str):
            conditions.append(sa.func.lower(column) == fold_case(stored))
        else:
            conditions.append(column == stored)
    return sa.and_(*conditions) if conditions else None
