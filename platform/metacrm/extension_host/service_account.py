"""`ctx.records`: the records service acting as a pack's service account.

The subject is `AccessSubject(user_id=None, username="pack:<name>", roles=("pack_<name>",))`
and every call is an ordinary records-service call, so the access layer decides exactly as
for a user holding that role. The records service is held in a closure, not an attribute:
nothing reachable by attribute leads a pack to the engine or a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.extension import RecordList
from metacrm.extension_host.specs import pack_role, pack_username
from metacrm.services.records.service import RecordsService


def pack_subject(name: str) -> AccessSubject:
    """The access subject of pack `name`'s service account."""
    return AccessSubject(user_id=None, username=pack_username(name), roles=(pack_role(name),))


class ServiceAccountRecords:
    """`metacrm.extension.Records` for one pack."""

    __slots__ = ("_create", "_delete", "_get", "_list", "_update")

    def __init__(self, records: RecordsService, pack: str) -> None:
        subject = pack_subject(pack)

        def list_(entity: str, where: Mapping[str, Any] | None, sort: Sequence[str],
                  limit: int, cursor: str | None, fields: Sequence[str] | None
                  ) -> RecordList:
            page = records.list(subject, entity, criteria=where, sort=sort, limit=limit,
                                cursor=cursor, fields=fields)
            return RecordList(tuple(page.records), page.next_cursor, page.count)

        self._list: Callable[..., RecordList] = list_
        self._get: Callable[[str, str], dict[str, Any]] = (
            lambda entity, record_id: records.get(subject, entity, record_id))
        self._create: Callable[[str, Mapping[str, Any]], dict[str, Any]] = (
            lambda entity, values: records.create(subject, entity, values))
        self._update: Callable[..., dict[str, Any]] = (
            lambda entity, record_id, changes, version: records.update(
                subject, entity, record_id, changes, expected_version=version))
        self._delete: Callable[[str, str], None] = (
            lambda entity, record_id: records.delete(subject, entity, record_id))

    def list(self, entity: str, *, where: Mapping[str, Any] | None = None,
             sort: Sequence[str] = (), limit: int = 50, cursor: str | None = None,
             fields: Sequence[str] | None = None) -> RecordList:
        return self._list(entity, where, sort, limit, cursor, fields)

    def get(self, entity: str, record_id: str) -> Mapping[str, Any]:
        return self._get(entity, record_id)

    def create(self, entity: str, values: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._create(entity, values)

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any], *,
               expected_version: int | None = None) -> Mapping[str, Any]:
        return self._update(entity, record_id, changes, expected_version)

    def delete(self, entity: str, record_id: str) -> None:
        self._delete(entity, record_id)


class TransactionReader:
    """`metacrm.extension.SaveReader`: reads on the saving transaction's connection, as
    the pack's service account."""

    __slots__ = ("_get",)

    def __init__(self, records: RecordsService, conn: sa.Connection, pack: str) -> None:
        subject = pack_subject(pack)

        def get(entity: str, record_id: str) -> dict[str, Any]:
            runtime = records.runtime()
            scoped = runtime.scoped(subject)
            scoped.require(entity, "read")
            return runtime.json.record(entity, scoped.get(conn, entity, record_id))

        self._get: Callable[[str, str], dict[str, Any]] = get

    def get(self, entity: str, record_id: str) -> Mapping[str, Any]:
        return self._get(entity, record_id)
