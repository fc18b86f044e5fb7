"""The `MigrationContext` a pack's `step.py` gets: its service account's records on the
upgrade's own connection, so the step's writes commit or roll back with the upgrade."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.extension import RecordList, Records
from metacrm.services.records.json_values import RecordJson


class StepRecords:
    """`metacrm.extension.Records` on one connection, through the pack's scoped repository
    (its `permissions`), values in the API's JSON form."""

    __slots__ = ("_connection", "_json", "_scoped")

    def __init__(self, connection: sa.Connection, scoped: ScopedRepository,
                 json: RecordJson) -> None:
        self._connection = connection
        self._scoped = scoped
        self._json = json

    def list(self, entity: str, *, where: Mapping[str, Any] | None = None,
             sort: Sequence[str] = (), limit: int = 50, cursor: str | None = None,
             fields: Sequence[str] | None = None) -> RecordList:
        page = self._scoped.page(self._connection, entity, criteria=where, sort=sort,
                                 limit=limit, cursor=cursor, fields=fields)
        return RecordList(tuple(self._json.record(entity, record) for record in page.records),
                          page.next_cursor)

    def get(self, entity: str, record_id: str) -> Mapping[str, Any]:
        self._scoped.require(entity, "read")
        return self._json.record(entity, self._scoped.get(self._connection, entity, record_id))

    def create(self, entity: str, values: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._json.record(entity, self._scoped.insert(self._connection, entity, values))

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any], *,
               expected_version: int | None = None) -> Mapping[str, Any]:
        _before, after = self._scoped.update(self._connection, entity, record_id, changes,
                                             expected_version=expected_version)
        return self._json.record(entity, after)

    def delete(self, entity: str, record_id: str) -> None:
        self._scoped.delete(self._connection, entity, record_id)


@dataclass(frozen=True, slots=True)
class StepContext:
    """`metacrm.extension.MigrationContext` of one `migrations/<version>/step.py`."""

    pack: str
    from_version: str
    to_version: str
    records: Records
