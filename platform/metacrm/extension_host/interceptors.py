"""Packs' interceptors in the records write path (`services.records.save_hooks.SaveInterceptors`).

For a write command on an entity some pack intercepts, `hook` returns the callback the
scoped repository runs per record before writing it: the record is shown to each
interceptor in JSON form (stored values, then defaults on create, then the changes, then
what earlier interceptors set), in ascending order; what they return is validated against
the entity and handed back to be written with engine rights. `Refused` — like any metacrm
error — propagates and rolls the command back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.extension import Caller, PendingSave
from metacrm.extension_host.contributions import InterceptorEntry
from metacrm.extension_host.service_account import TransactionReader
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.services.records.save_hooks import json_defaults, json_value
from metacrm.services.records.service import RecordsService
from metacrm.storage.record_codec import Record

Chain = Sequence[tuple[str, InterceptorEntry]]
"""(pack, entry) in the order they run."""


def _caller(subject: AccessSubject) -> Caller | None:
    if subject.username.startswith("pack:") or subject.username.startswith("trigger:"):
        return None
    return Caller(subject.user_id, subject.username, subject.roles)


class PackInterceptors:
    """`SaveInterceptors` over the interceptors the registries hold."""

    def __init__(self, records: RecordsService,
                 chain_for: Callable[[str], Chain]) -> None:
        self._records = records
        self._chain_for = chain_for

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        chain = self._chain_for(entity)
        if not chain:
            return None
        runtime = self._records.runtime()
        definition = runtime.model.entity(entity)
        if definition is None:
            return None
        records = self._records
        registry = records.registry
        caller = _caller(subject)

        def before_save(current: Record | None, planned: Mapping[str, Any]
                        ) -> Mapping[str, Any]:
            previous = runtime.json.record(entity, current) if current is not None else None
            changes = {key: json_value(registry, definition, key, value)
                       for key, value in planned.items()}
            record = dict(previous) if previous is not None else json_defaults(registry,
                                                                           definition)
            record.update(changes)
            added: dict[str, Any] = {}
            for pack, entry in chain:
                result = entry.interceptor(PendingSave(
                    entity=entity, operation="update" if current is not None else "create",
                    record=MappingProxyType(dict(record)),
                    changes=MappingProxyType(dict(changes)),
                    previous=MappingProxyType(previous) if previous is not None else None,
                    caller=caller, reader=TransactionReader(records, conn, pack)))
                values = _checked(pack, definition, result)
                added.update(values)
                record.update({key: json_value(registry, definition, key, value)
                               for key, value in values.items()})
            return added

        return before_save


def _checked(pack: str, entity: EntityDef, result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise TypeError(f"an interceptor of pack {pack!r} returned {type(result).__name__}, "
                        "not a mapping of field values")
    unknown = [ErrorDetail(f"set by pack {pack!r}, but {key!r} is not a field of "
                           f"{entity.name!r}", f"/{key}")
               for key in result if not isinstance(key, str) or entity.field(key) is None]
    if unknown:
        raise ValidationFailed(f"invalid {entity.name} record", unknown)
    return dict(result)
