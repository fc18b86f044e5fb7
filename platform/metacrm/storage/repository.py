"""The record repository: the only code that talks SQL to record tables.

Every method takes the caller's `Connection`; the caller owns the transaction, so a command's
row changes, audit entries and outbox events commit or roll back together (unit of work).

Records are dicts: the system columns (`id`, `created_at`, `created_by`, `updated_at`,
`updated_by`, `owner`, `version`) plus one normalised Python value per field. Writes accept
JSON or Python values and normalise them through the field types; every problem of a payload
is reported at once (`ValidationFailed`, one `ErrorDetail` per field, pointer `/<field>`).

Everything that depends only on the model — per-entity codecs, statements, delete rules — is
worked out once in `__init__`; a repository belongs to one compiled model.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.criteria.context import CriteriaContext
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.errors import ErrorDetail, NotFound, StaleRecord, ValidationFailed
from metacrm.kernel.ids import new_id
from metacrm.metadata.model import CompiledModel
from metacrm.storage import keyset
from metacrm.storage.auto_numbers import assign_numbers
from metacrm.storage.copy_insert import copy_applies, copy_insert
from metacrm.storage.record_codec import EntityCodec, Record
from metacrm.storage.record_integrity import IntegrityTranslator
from metacrm.storage.record_query import EXACT_COUNT_LIMIT, Page, RecordCount, RecordQueries
from metacrm.storage.record_references import (
    DeletePlanner,
    inbound_references,
    missing_references,
)
from metacrm.storage.search_index import Ranking
from metacrm.storage.tables import RecordTables


class Unchanged(enum.Enum):
    """Marks an optional argument the caller did not give (None being a real value)."""

    KEEP = "keep"


KEEP = Unchanged.KEEP


RANK_CANDIDATES = 300
"""Most matching rows a search ranks (`RecordRepository.ranked`)."""



def _check_version(expected_version: Any) -> None:
    if expected_version is not None and (
        not isinstance(expected_version, int) or isinstance(expected_version, bool)
        or expected_version < 1
    ):
        raise ValidationFailed(
            "invalid version", [ErrorDetail("must be a positive whole number", "/version")]
        )


def _known_id(entity: str, record_id: Any) -> str:
    """Record ids are strings; anything else names no record (and must not reach SQL)."""
    if not isinstance(record_id, str):
        raise NotFound(f"{entity} record {record_id!r} does not exist")
    return record_id


def _stale(record_id: str, expected_version: Any, current: Any) -> StaleRecord:
    return StaleRecord(
        f"record {record_id} was changed by someone else: version {current}, "
        f"expected {expected_version}; reload it and try again",
        [ErrorDetail(f"is {current}, not {expected_version}", "/version")],
    )


class RecordRepository:
    """Insert, update (optimistic lock), delete, get and query records of one model."""

    def __init__(
        self,
        model: CompiledModel,
        tables: RecordTables,
        registry: FieldTypeRegistry,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.model = model
        self.tables = tables
        self.registry = registry
        self._clock = clock
        self._codecs: dict[str, EntityCodec] = {
            name: EntityCodec(entity, tables[name], registry)
            for name, entity in model.entities.items()
        }
        self._readers = {name: codec.reader(codec.slots) for name, codec in self._codecs.items()}
        self._integrity = {
            name: IntegrityTranslator(codec, registry) for name, codec in self._codecs.items()
        }
        self._deletes = DeletePlanner(inbound_references(model), tables.tables)
        self._inserts = {name: table.insert() for name, table in tables.tables.items()}
        self._gets = {
            name: sa.select(*codec.columns).where(codec.table.c.id == sa.bindparam("id"))
            for name, codec in self._codecs.items()
        }
        self._queries = RecordQueries(registry)

    # --- helpers -----------------------------------------------------------------------

    def _codec(self, entity: str) -> EntityCodec:
        codec = self._codecs.get(entity)
        if codec is None:
            raise NotFound(f"unknown entity {entity!r}", [ErrorDetail("no such entity", "")])
        return codec

    def _references_errors(
        self, conn: sa.Connection, codec: EntityCodec, records: Sequence[Mapping[str, Any]],
        pointer: Callable[[int, str], str],
    ) -> list[ErrorDetail]:
        if not codec.reference_slots and not codec.regarding_slots:
            return []
        return missing_references(conn, codec, self.tables.tables, records, pointer)

    # --- writes ------------------------------------------------------------------------

    def insert(
        self,
        conn: sa.Connection,
        entity: str,
        values: Mapping[str, Any],
        *,
        actor: str | None = None,
        owner: str | None = None,
        trusted: bool = False,
    ) -> Record:
        """Create one record and return it as stored (defaults, auto-numbers, system columns).

        `owner` defaults to `actor`. `trusted` lets engine-internal writers (automation,
        pipeline actions) set read-only fields; auto-numbers and system columns stay refused.
        """
        return self._insert(conn, entity, [values], actor, owner, trusted, many=False)[0]

    def insert_many(
        self,
        conn: sa.Connection,
        entity: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        actor: str | None = None,
        owner: str | None = None,
        trusted: bool = False,
        owners: Sequence[str | None] | None = None,
        bulk_copy: bool = False,
    ) -> list[Record]:
        """Create many records with one `executemany` (imports, bulk operations).

        All or nothing: any invalid row fails the batch; pointers are `/<row index>/<field>`.
        `owners` (one per row) overrides `owner` row by row. `bulk_copy` writes the validated
        rows on PostgreSQL with COPY into a staging table and one INSERT ... SELECT
        (`storage.copy_insert`; imports): the same checks, a cheaper write.
        """
        if owners is not None and len(owners) != len(rows):
            raise ValueError("owners must hold one owner per row")
        return self._insert(conn, entity, rows, actor, owner, trusted, many=True,
                            owners=owners, bulk_copy=bulk_copy)

    def _insert(
        self,
        conn: sa.Connection,
        entity: str,
        rows: Sequence[Mapping[str, Any]],
        actor: str | None,
        owner: str | None,
        trusted: bool,
        *,
        many: bool,
        owners: Sequence[str | None] | None = None,
        bulk_copy: bool = False,
    ) -> list[Record]:
        codec = self._codec(entity)
        if isinstance(rows, Mapping | str) or not isinstance(rows, Sequence):
            raise ValidationFailed(
                f"invalid {entity} records", [ErrorDetail("must be a list of records", "/")]
            )
        if not rows:
            return []
        errors: list[ErrorDetail] = []
        defaults = codec.defaults()
        mutable_defaults = any(isinstance(v, dict | list) for v in defaults.values())
        records: list[Record] = []
        for index, values in enumerate(rows):
            row_defaults = copy.deepcopy(defaults) if mutable_defaults else defaults
            records.append(codec.for_insert(values, row_defaults, f"/{index}" if many else "",
                                            errors, trusted=trusted))
        errors.extend(self._references_errors(
            conn, codec, records,
            (lambda i, name: f"/{i}/{name}") if many else (lambda _i, name: f"/{name}"),
        ))
        if errors:
            raise ValidationFailed(f"invalid {entity} record", errors)
        now = self._clock()
        for slot in codec.auto_slots:
            assign_numbers(conn, entity, slot.field, records, now)
        owner_value = owner if owner is not None else actor
        storage_rows: list[dict[str, Any]] = []
        results: list[Record] = []
        to_row = codec.to_row
        for index, record in enumerate(records):
            system: dict[str, Any] = {
                "id": new_id(),
                "created_at": now,
                "created_by": actor,
                "updated_at": now,
                "updated_by": actor,
                "owner": owner_value if owners is None else owners[index],
                "version": 1,
            }
            storage_rows.append(to_row(record, dict(system)))
            system.update(record)
            results.append(system)
        try:
            if bulk_copy and copy_applies(conn, storage_rows):
                copy_insert(conn, codec.table, storage_rows)
            elif len(storage_rows) == 1:
                conn.execute(self._inserts[entity], storage_rows[0])
            else:
                conn.execute(self._inserts[entity], storage_rows)
        except sa.exc.IntegrityError as exc:
            raise self._integrity[entity].translate(exc) from exc
        return results

    def update(
        self,
        conn: sa.Connection,
        entity: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        actor: str | None = None,
        owner: str | Unchanged | None = KEEP,
        trusted: bool = False,
    ) -> Record:
        """Change some fields and return the whole record with its new version.

        With `expected_version` the row is only changed if its version is still that one
        (`UPDATE ... WHERE id = :id AND version = :v`): of two updates made from the same
        version exactly one succeeds, the other gets `StaleRecord`. `owner` reassigns the
        record. An update without changes writes nothing and returns the record.
        """
        codec = self._codec(entity)
        _known_id(entity, record_id)
        _check_version(expected_version)
        values = codec.for_update(changes, trusted=trusted)
        errors = self._references_errors(conn, codec, [values], lambda _i, name: f"/{name}")
        if errors:
            raise ValidationFailed(f"invalid {entity} changes", errors)
        table = codec.table
        if not values and owner is KEEP:
            current = self.get(conn, entity, record_id)
            if current is None:
                raise NotFound(f"{entity} record {record_id} does not exist")
            if expected_version is not None and current["version"] != expected_version:
                raise _stale(record_id, expected_version, current["version"])
            return current
        row: dict[str, Any] = {
            "version": table.c.version + 1,
            "updated_at": self._clock(),
            "updated_by": actor,
        }
        if owner is not KEEP:
            row["owner"] = owner
        codec.to_row(values, row)
        condition = table.c.id == record_id
        if expected_version is not None:
            condition = sa.and_(condition, table.c.version == expected_version)
        statement = sa.update(table).where(condition).values(row).returning(*codec.columns)
        try:
            stored = conn.execute(statement).mappings().first()
        except sa.exc.IntegrityError as exc:
            raise self._integrity[entity].translate(exc) from exc
        if stored is None:
            raise self._missing_or_stale(conn, codec, record_id, expected_version)
        return self._readers[entity](stored)

    def _missing_or_stale(
        self, conn: sa.Connection, codec: EntityCodec, record_id: str, expected: int | None
    ) -> NotFound | StaleRecord:
        table = codec.table
        current = conn.execute(
            sa.select(table.c.version).where(table.c.id == record_id)
        ).scalar_one_or_none()
        if current is None:
            return NotFound(f"{codec.entity.name} record {record_id} does not exist")
        return _stale(record_id, expected, current)

    def delete(
        self,
        conn: sa.Connection,
        entity: str,
        record_id: str,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> None:
        """Delete a record, applying the `on_delete` rule of every reference to it.

        `restrict` references from other records refuse the deletion (`Conflict` naming the
        referring entity); `cascade` deletes the referring records (recursively);
        `set_null` empties the referring fields (their version goes up; `actor` is recorded
        as their `updated_by`).
        """
        codec = self._codec(entity)
        _known_id(entity, record_id)
        _check_version(expected_version)
        table = codec.table
        current = conn.execute(
            sa.select(table.c.version).where(table.c.id == record_id).with_for_update()
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(f"{entity} record {record_id} does not exist")
        if expected_version is not None and current != expected_version:
            raise _stale(record_id, expected_version, current)
        doomed = self._deletes.plan(conn, entity, [record_id])
        try:
            self._deletes.execute(conn, doomed, now=self._clock(), actor=actor,
                                  skip=(entity, record_id))
            deleted = conn.execute(sa.delete(table).where(table.c.id == record_id)).rowcount
        except sa.exc.IntegrityError as exc:
            raise self._integrity[entity].translate(exc) from exc
        if deleted != 1:  # pragma: no cover - the row is locked (PostgreSQL) or the
            # database is (SQLite) since the version check
            raise self._missing_or_stale(conn, codec, record_id, expected_version)

    # --- reads -------------------------------------------------------------------------

    def get(
        self, conn: sa.Connection, entity: str, record_id: str, *, for_update: bool = False,
        key_share: bool = False,
    ) -> Record | None:
        """The record with this id, or None. `for_update` locks the row until the end of
        the transaction (PostgreSQL; SQLite locks the database when the transaction
        writes), so a check made on it still holds when the caller writes. With
        `key_share` the lock is PostgreSQL's `FOR NO KEY UPDATE`, which does not wait for
        transactions that only insert records referring to this one."""
        self._codec(entity)
        if not isinstance(record_id, str):
            return None
        statement = self._gets[entity]
        if for_update:
            statement = statement.with_for_update(key_share=key_share)
        row = conn.execute(statement, {"id": record_id}).mappings().first()
        return None if row is None else self._readers[entity](row)

    def sort_keys(self, entity: str, sort: Sequence[str]) -> tuple[keyset.SortKey, ...]:
        """The parsed sort (cached): ValidationFailed (`/sort/<i>`) for bad items."""
        return self._queries.sort_keys(self._codec(entity), sort)

    def criteria_condition(
        self, entity: str, criteria: Any, context: CriteriaContext | None = None
    ) -> sa.ColumnElement[bool]:
        """The SQL condition of a criteria tree; ValidationFailed (`/criteria/...`) if bad."""
        return self._queries.criteria_condition(self._codec(entity), criteria, context)

    def query(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        criteria: Any = None,
        context: CriteriaContext | None = None,
        sort: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
        fields: Sequence[str] | None = None,
        where: sa.ColumnElement[bool] | None = None,
    ) -> Page:
        """One page of the records matching `criteria`, ordered by `sort` then `id`.

        `sort` items are field names, `-` for descending; only sortable fields (indexed or
        unique, `id`, `created_at`, `updated_at`). Pass the previous page's `next_cursor` to
        get the next page (same sort). `limit` is 1..500. `fields` limits the fields
        returned; the system columns always come back. `where` is an extra SQL condition
        on the entity's table, ANDed in (the access layer's scope).
        """
        codec = self._codec(entity)
        read = self._readers[entity] if fields is None else None
        return self._queries.page(
            conn, codec, criteria=criteria, context=context, sort=sort, limit=limit,
            cursor=cursor, fields=fields, read=read, where=where,
        )

    def rows_after(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        where: sa.ColumnElement[bool] | None,
        fields: Sequence[str] | None,
        after: str | None,
        limit: int,
    ) -> list[Record]:
        """Up to `limit` records matching `where` whose id follows `after`, in id order:
        one batch of a keyset walk over a whole result (a segment of a million persons).

        A walk by primary key needs no cursor encoding and no sort check, and each batch is
        a short statement on the primary key index — measured against a server-side cursor
        (bench/segments.py), it is as fast and holds no transaction open while the caller
        works through the batch (a mailing sends mail between batches)."""
        codec = self._codec(entity)
        slots = codec.select_fields(fields)
        read = self._readers[entity] if fields is None else codec.reader(slots)
        table = codec.table
        statement = sa.select(*codec.columns_of(slots))
        if where is not None:
            statement = statement.where(where)
        if after is not None:
            statement = statement.where(table.c.id > after)
        statement = statement.order_by(table.c.id).limit(limit)
        return [read(row) for row in conn.execute(statement).mappings()]

    def ids_after(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        where: sa.ColumnElement[bool] | None,
        after: str | None,
        limit: int,
    ) -> list[str]:
        """`rows_after` with only the ids: the cheapest walk over a large result."""
        table = self._codec(entity).table
        statement = sa.select(table.c.id)
        if where is not None:
            statement = statement.where(where)
        if after is not None:
            statement = statement.where(table.c.id > after)
        return list(conn.execute(statement.order_by(table.c.id).limit(limit)).scalars())

    def page_and_count(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        sort: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
        fields: Sequence[str] | None = None,
        where: sa.ColumnElement[bool] | None = None,
        exact_up_to: int = EXACT_COUNT_LIMIT,
    ) -> tuple[Page, RecordCount]:
        """`query` and `count` of the same condition in one round trip (a list page)."""
        codec = self._codec(entity)
        read = self._readers[entity] if fields is None else None
        return self._queries.page_and_count(
            conn, codec, criteria=None, context=None, sort=sort, limit=limit, cursor=cursor,
            fields=fields, read=read, where=where, exact_up_to=exact_up_to)

    def count(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        criteria: Any = None,
        context: CriteriaContext | None = None,
        where: sa.ColumnElement[bool] | None = None,
        exact_up_to: int = EXACT_COUNT_LIMIT,
    ) -> RecordCount:
        """How many records match: exact up to `exact_up_to`, else a flagged estimate."""
        return self._queries.count(conn, self._codec(entity), criteria=criteria,
                                   context=context, where=where, exact_up_to=exact_up_to)

    def ranked(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        where: sa.ColumnElement[bool],
        ranking: Ranking,
        limit: int,
        fields: Sequence[str] | None = None,
        exact_up_to: int = EXACT_COUNT_LIMIT,
    ) -> tuple[list[Record], RecordCount]:
        """The best `limit` records matching `where` by rank (highest first, then id) and
        how many match (exact up to `exact_up_to`): a search's hits
        (`storage.search_index`); no cursor, a search has no next page.

        One statement: the first `exact_up_to + 1` matching ids (a materialised CTE) give
        the count, and only the first RANK_CANDIDATES of them are ranked — a common word
        matches tens of thousands of rows at 1M records, and ranking them all reads each
        one's row, where a few hundred of them rank alike and the value starting with the
        word still comes first among them."""
        codec = self._codec(entity)
        slots = codec.select_fields(fields)
        read = codec.reader(slots)
        table = codec.table
        source: sa.FromClause = table
        if ranking.join is not None and ranking.on is not None:
            source = table.join(ranking.join, ranking.on)
        matched = sa.select(table.c.id.label("match_id")).where(where)
        if conn.dialect.name == "postgresql":
            # A CTE is planned for all its rows (so the index scans, not a sequential scan
            # betting a LIMIT stops it early, which loses when the words' matches are far
            # rarer together than the planner assumes) and read lazily: only the first
            # `exact_up_to + 1` rows are fetched.
            every = matched.cte("matched").prefix_with("MATERIALIZED")
            matching = (sa.select(every.c.match_id).limit(exact_up_to + 1)
                        .cte("matching").prefix_with("MATERIALIZED"))
        else:
            matching = matched.limit(exact_up_to + 1).cte("matching")
        ranked = sa.select(matching.c.match_id).limit(RANK_CANDIDATES).scalar_subquery()
        counted = sa.select(sa.func.count()).select_from(matching).scalar_subquery()
        statement = (sa.select(*codec.columns_of(slots), counted.label("_matching"))
                     .select_from(source).where(table.c.id.in_(ranked))
                     .order_by(ranking.rank.desc(), table.c.id).limit(limit))
        rows = conn.execute(statement).mappings().all()
        found = int(rows[0]["_matching"]) if rows else 0
        count = (RecordCount(found, False) if found <= exact_up_to
                 else self._queries.estimate(conn, codec, where, exact_up_to))
        return [read(row) for row in rows], count

    def table(self, entity: str) -> sa.Table:
        """The entity's table, for conditions the caller passes back as `where`."""
        return self._codec(entity).table
