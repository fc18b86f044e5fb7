"""Find the existing record a conversion target should reuse instead of making a duplicate.

A target's `match` lists name fields; the record matches one list when it equals the values
the conversion would give on every field of the list. Text, email and URL compare ignoring
case (the same case folding list filters use, `criteria.casefold`); values are compared in
their normalised form (an email's domain lower-cased, a phone in E.164), so what the
conversion would store is what is compared. Empty values never match, and only records the
caller may read are candidates — a list naming a field hidden from the caller is not used,
so matching reveals nothing the caller could not see. Of several matching records the
oldest wins.

When no `match` list finds one, the target entity's duplicate rules are asked
(`find_duplicate`, fuzzy conditions compared on equal keys): the first duplicate the caller
may read is linked instead of creating a new record — a lead converted for a person who
already exists links that person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.metadata.model import EntityDef
from metacrm.services.duplicates.checks import DuplicateChecker
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
        stored = _stored_values(scoped, entity, fields, values)
        if stored is None:
            continue
        found = scoped.first_equal(
            conn, entity.name, stored, sort=OLDEST_FIRST,
            ignore_case={name for name in fields
                         if (fdef := entity.field(name)) and fdef.type in CASE_FOLDED_TYPES})
        if found is not None:
            return found
    return None


def find_duplicate(
    conn: sa.Connection, scoped: ScopedRepository, checker: DuplicateChecker,
    subject: AccessSubject, entity: EntityDef, values: Mapping[str, Any],
) -> Record | None:
    """The oldest record, readable by the subject, that the entity's duplicate rules say
    `values` duplicate (hidden fields stripped), or None. Fuzzy conditions count only on
    equal keys here: a conversion offers no way to make a new record instead of the
    linked one, so it links only what is surely the same (`ACME, LLC` and `Acme Ltd`)."""
    if not checker.has_rules(entity.name, "create"):
        return None
    check = checker.find(conn, subject, entity.name, values, event="create", exact=True)
    for match in check.matches:
        found = scoped.readable(conn, entity.name, match.id)
        if found is not None:
            return scoped.visible(entity.name, found)
    return None


def _stored_values(
    scoped: ScopedRepository, entity: EntityDef, fields: Sequence[str],
    values: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The storage form of `values` on `fields`, or None when a value is empty or invalid."""
    stored_values: dict[str, Any] = {}
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
        stored_values[name] = stored
    return stored_values or None
