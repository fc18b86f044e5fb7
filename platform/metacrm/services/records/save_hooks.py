"""The port through which code outside the records service takes part in every save.

`RecordsService.interceptors` answers, per write command and entity, the callback the
scoped repository runs on each record just before writing it (`access.scoped_repository.
BeforeSave`): it sees the stored record (None on create) and the values about to be
written, and returns values to add — written with engine rights — or raises to refuse.
It runs inside the command's transaction, BEFORE the commit. The extension host
(`metacrm.extension_host`) implements it for packs' interceptors; without packs it is
`NO_INTERCEPTORS`, which costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.base import FieldValueError
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef
from metacrm.storage.record_codec import Record


class SaveInterceptors(Protocol):
    """Hands out the before-save callback of one write command."""

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        """The callback for saves of `entity` records made by `subject` on `conn`, or None
        when nothing intercepts them."""
        ...


class NoInterceptors:
    """Nothing intercepts any save."""

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        return None


NO_INTERCEPTORS = NoInterceptors()


def chained(first: BeforeSave | None, second: BeforeSave | None) -> BeforeSave | None:
    """`first`, then `second` on the values with what `first` added; both additions."""
    if first is None or second is None:
        return first or second
    earlier, later = first, second

    def both(current: Any, values: Mapping[str, Any]) -> Mapping[str, Any]:
        added = dict(earlier(current, values))
        more = later(current, {**values, **added} if added else values)
        return {**added, **more} if more else added

    return both


def merged_record(
    definition: EntityDef, registry: Any, current: Record | None, values: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, set[str] | None]:
    """The record as it will be (Python values) and the fields that change (None on
    create: everything); None when a value does not fit (the repository will say why).

    What every before-save callback that judges the whole record reads (computed fields,
    lookup defaults, validation rules)."""
    record: dict[str, Any] = dict(current) if current is not None else {}
    if current is None:
        for each in definition.fields:
            try:
                record[each.name] = registry.get(each.type).default(each)
            except (FieldValueError, ValueError, TypeError):
                record[each.name] = None
    for name, raw in values.items():
        fdef = definition.field(name)
        if fdef is None:
            continue
        if raw is None:
            record[name] = None
            continue
        try:
            record[name] = registry.get(fdef.type).normalize(fdef, raw)
        except (FieldValueError, ValueError, TypeError):
            return None, None
    return record, None if current is None else set(values)


def json_value(registry: FieldTypeRegistry, entity: EntityDef, name: str, value: Any) -> Any:
    """A value about to be saved as the API would show it once stored; a value that does
    not validate is passed as given (the repository reports it after the callbacks)."""
    fdef = entity.field(name)
    if fdef is None or value is None:
        return value
    field_type = registry.get(fdef.type)
    try:
        normalized = field_type.normalize(fdef, value)
    except (FieldValueError, ValueError, TypeError, ArithmeticError):
        return value
    return None if normalized is None else field_type.to_json(fdef, normalized)


def json_defaults(registry: FieldTypeRegistry, entity: EntityDef) -> dict[str, Any]:
    """A new record's default values in JSON form (what a create starts from)."""
    result: dict[str, Any] = {}
    for fdef in entity.fields:
        field_type = registry.get(fdef.type)
        value = field_type.default(fdef)
        if value is not None:
            result[fdef.name] = field_type.to_json(fdef, value)
    return result
