"""The records as the system acts on them: no scope, no field security.

Engine work that acts with its own rights rather than a user's — automation reading the
record a trigger fired for, a time trigger's search, the least-loaded owner count, a
pipeline guard reading the current state, a conversion writing its links back — goes
through `SystemRecords`. It is a separate, greppable path on purpose: anything made on
behalf of a user goes through `ScopedRepository` instead (access/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.criteria.context import CriteriaContext
from metacrm.storage import record_merges
from metacrm.storage.duplicate_search import KeyCondition, duplicate_ids, key_groups
from metacrm.storage.record_codec import Record
from metacrm.storage.record_query import Page, RecordCount
from metacrm.storage.repository import RecordRepository


class SystemRecords:
    """The operations engine code uses on records, unscoped (see the module docstring)."""

    def __init__(self, repository: RecordRepository) -> None:
        self._repository = repository

    def get(
        self, conn: sa.Connection, entity: str, record_id: str, *, for_update: bool = False,
        key_share: bool = False,
    ) -> Record | None:
        """The whole record with this id, or None (`for_update` locks its row; with
        `key_share`, without waiting for inserts of records referring to it)."""
        return self._repository.get(conn, entity, record_id, for_update=for_update,
                                    key_share=key_share)

    def update(
        self, conn: sa.Connection, entity: str, record_id: str, changes: Mapping[str, Any],
        *, actor: str | None = None, trusted: bool = False,
        expected_version: int | None = None,
    ) -> Record:
        """Change fields of a record as the engine (`trusted` may write read-only fields;
        with `expected_version`, only if the record is still at that version, else
        `StaleRecord` — a claim that two workers cannot both win)."""
        return self._repository.update(conn, entity, record_id, changes, actor=actor,
                                       trusted=trusted, expected_version=expected_version)

    def insert_many(
        self, conn: sa.Connection, entity: str, rows: Sequence[Mapping[str, Any]], *,
        actor: str | None = None, owner: str | None = None, trusted: bool = False,
    ) -> list[Record]:
        """Create many records in one statement as the engine (a mailing's recipient
        rows); all or nothing."""
        return self._repository.insert_many(conn, entity, rows, actor=actor, owner=owner,
                                            trusted=trusted)

    def query(
        self, conn: sa.Connection, entity: str, *, criteria: Any = None,
        context: CriteriaContext | None = None, sort: Sequence[str] = (), limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """One page of the records matching `criteria`, whole."""
        return self._repository.query(conn, entity, criteria=criteria, context=context,
                                      sort=sort, limit=limit, cursor=cursor)

    def count(
        self, conn: sa.Connection, entity: str, *, criteria: Any = None,
        where: sa.ColumnElement[bool] | None = None, exact_up_to: int | None = None,
    ) -> RecordCount:
        """How many records match `criteria` and `where` (a condition on `table`); exact
        up to `exact_up_to` (default: the list views' limit)."""
        if exact_up_to is None:
            return self._repository.count(conn, entity, criteria=criteria, where=where)
        return self._repository.count(conn, entity, criteria=criteria, where=where,
                                      exact_up_to=exact_up_to)

    def table(self, entity: str) -> sa.Table:
        """The entity's table, for a `where` condition of `count`."""
        return self._repository.table(entity)

    def duplicate_ids(
        self, conn: sa.Connection, entity: str, conditions: Sequence[KeyCondition], *,
        operator: str, exclude: Sequence[str] = (), limit: int = 20,
    ) -> list[str]:
        """Ids of every record whose match keys match (`storage.duplicate_search`), in
        scope or not: a block rule refuses a duplicate the saver cannot see too. Callers
        show only the ids the subject may read (`ScopedRepository.fetch`)."""
        return duplicate_ids(conn, self._repository.table(entity), conditions,
                             operator=operator, exclude=exclude, limit=limit)

    def key_groups(
        self, conn: sa.Connection, entity: str, column: str, *, limit: int,
        after: str | None = None,
    ) -> list[tuple[str, list[str]]]:
        """Match keys shared by several records, with their ids (the duplicate scan)."""
        return key_groups(conn, self._repository.table(entity), column, limit=limit,
                          after=after)

    # --- merging records (services.records.merge): engine work on every reference ---------

    def snapshot(self, conn: sa.Connection, entity: str, ids: Sequence[str]
                 ) -> list[dict[str, Any]]:
        """The rows as stored, as JSON, to put back on undo."""
        return record_merges.snapshot_rows(conn, self._repository.table(entity), ids)

    def restore(self, conn: sa.Connection, entity: str, rows: Sequence[Mapping[str, Any]]
                ) -> None:
        record_merges.restore_rows(conn, self._repository.table(entity), rows)

    def remove(self, conn: sa.Connection, entity: str, ids: Sequence[str]) -> None:
        """Take merged rows out of the table (their references were re-pointed first; the
        rows are kept in the merge ledger, their history in the audit trail)."""
        record_merges.delete_rows(conn, self._repository.table(entity), ids)

    def repoint(self, conn: sa.Connection, entity: str, merged: Sequence[str], survivor: str,
                now: datetime) -> list[dict[str, str]]:
        """Every reference (and regarding link) to `merged` records now names `survivor`,
        whoever may see the referring records: none may dangle."""
        return record_merges.repoint_references(
            conn, self._repository.model, self._repository.tables.tables, entity, merged,
            survivor, now)

    def unrepoint(self, conn: sa.Connection, changes: Sequence[Mapping[str, str]],
                  survivor: str, now: datetime) -> None:
        record_merges.restore_references(conn, self._repository.tables.tables, changes,
                                         survivor, now)
