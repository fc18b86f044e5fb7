"""Pages of records: criteria, sort and keyset pagination compiled into one SELECT.

The read side of the repository. A query is the criteria tree compiled to SQL (the same
language saved views, permission rules and reports use), ANDed with the keyset condition of
the cursor, ordered by the sort keys with `id` last, limited to one more row than the page
so the next cursor is only handed out when there is a next page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from metacrm.criteria.context import CriteriaContext
from metacrm.criteria.sql import compile_sql
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.kernel.ttl_cache import TtlCache
from metacrm.storage import keyset
from metacrm.storage.record_codec import EntityCodec, FieldSlot, Record

MAX_LIMIT = 500
SORT_CACHE_SIZE = 256
EXACT_COUNT_LIMIT = 1000
"""Counts are exact up to this many records; above, an estimate (flagged as one)."""
ESTIMATE_TTL = 60.0
"""Seconds the planner's estimate for one query (its SQL and parameters) is reused. The
planner's statistics change only when the table is analysed, so asking again for the next
page or the next viewer of the same list costs a round trip and tells nothing new."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query; `next_cursor` fetches the following page (None: last page)."""

    records: list[Record]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RecordCount:
    """How many records match: exact up to `EXACT_COUNT_LIMIT`, else `estimate` is True.

    Exact counts over big tables are what makes list views slow, so the count stops at
    the limit (`count(*)` over a `LIMIT limit + 1` subquery). Beyond it PostgreSQL answers
    with the planner's estimate (`reltuples` when unfiltered, else `EXPLAIN`); SQLite has
    no estimate and answers `limit + 1` (meaning "more than the limit").
    """

    value: int
    estimate: bool


class RecordQueries:
    """Builds and runs page queries; caches parsed sort specs (they repeat: list views)."""

    def __init__(self, registry: FieldTypeRegistry) -> None:
        self.registry = registry
        self._sorts: dict[tuple[str, tuple[Any, ...]], tuple[keyset.SortKey, ...]] = {}
        self._estimates: TtlCache[tuple[Any, ...], int] = TtlCache(ESTIMATE_TTL,
                                                                    max_entries=1000)

    def sort_keys(self, codec: EntityCodec, sort: Sequence[str],
                  conn: sa.Connection | None = None) -> tuple[keyset.SortKey, ...]:
        """The parsed sort: ValidationFailed (`/sort/<i>`) for bad items. With `conn`, a
        field without an index is accepted while the table is small (not cached: tables
        grow)."""
        try:
            return self._indexed_sort_keys(codec, sort)
        except ValidationFailed:
            if conn is None or not self._small(conn, codec):
                raise
        return keyset.parse_sort(codec.entity, codec.table, self.registry, sort,
                                 unindexed=True)

    def _small(self, conn: sa.Connection, codec: EntityCodec) -> bool:
        """At most `UNINDEXED_SORT_ROWS` records (a bounded count, kept for a minute)."""
        key = ("small", conn.engine.url.render_as_string(), codec.table.name)
        known = self._estimates.get(key)
        if known is None:
            bounded = sa.select(sa.literal(1)).select_from(codec.table).limit(
                keyset.UNINDEXED_SORT_ROWS + 1).subquery()
            known = int(conn.execute(sa.select(sa.func.count()).select_from(bounded))
                        .scalar_one())
            self._estimates.put(key, known)
        return known <= keyset.UNINDEXED_SORT_ROWS

    def _indexed_sort_keys(self, codec: EntityCodec, sort: Sequence[str]
                           ) -> tuple[keyset.SortKey, ...]:
        try:
            cache_key: tuple[str, tuple[Any, ...]] | None = (codec.entity.name, tuple(sort))
            cached = self._sorts.get(cache_key) if cache_key else None
        except TypeError:  # not a list, or unhashable items: let parse_sort report them
            cache_key, cached = None, None
        if cached is not None:
            return cached
        keys = keyset.parse_sort(codec.entity, codec.table, self.registry, sort)
        if cache_key is not None:
            if len(self._sorts) >= SORT_CACHE_SIZE:
                self._sorts.clear()
            self._sorts[cache_key] = keys
        return keys

    def criteria_condition(
        self, codec: EntityCodec, criteria: Any, context: CriteriaContext | None
    ) -> sa.ColumnElement[bool]:
        """The SQL condition of a criteria tree; ValidationFailed (`/criteria/...`) if bad."""
        try:
            return compile_sql(criteria, codec.entity, codec.table, self.registry,
                               context if context is not None else CriteriaContext())
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, [
                ErrorDetail(e.message, f"/criteria{e.pointer}", e.source) for e in exc.errors
            ]) from exc

    def page(
        self,
        conn: sa.Connection,
        codec: EntityCodec,
        *,
        criteria: Any,
        context: CriteriaContext | None,
        sort: Sequence[str],
        limit: int,
        cursor: str | None,
        fields: Sequence[str] | None,
        read: Callable[[Mapping[Any, Any]], Record] | None = None,
        where: sa.ColumnElement[bool] | None = None,
    ) -> Page:
        """One page; `read` is the entity's full-record reader when `fields` is None;
        `where` is an extra condition ANDed in (the caller's access scope)."""
        condition = self._condition(codec, criteria, context, where)
        page, _matching = self._run_page(conn, codec, condition, sort=sort, limit=limit,
                                         cursor=cursor, fields=fields, read=read)
        return page

    def page_and_count(
        self,
        conn: sa.Connection,
        codec: EntityCodec,
        *,
        criteria: Any,
        context: CriteriaContext | None,
        sort: Sequence[str],
        limit: int,
        cursor: str | None,
        fields: Sequence[str] | None,
        read: Callable[[Mapping[Any, Any]], Record] | None = None,
        where: sa.ColumnElement[bool] | None = None,
        exact_up_to: int = EXACT_COUNT_LIMIT,
    ) -> tuple[Page, RecordCount]:
        """`page` and `count` of the same conditions in one round trip: the bounded count
        rides along as a scalar subquery of the page's SELECT (an init plan: evaluated
        once). Only an empty page after a cursor, or more than `exact_up_to` matches (the
        estimate), costs a second statement."""
        condition = self._condition(codec, criteria, context, where)
        page, matching = self._run_page(conn, codec, condition, sort=sort, limit=limit,
                                        cursor=cursor, fields=fields, read=read,
                                        count_up_to=exact_up_to)
        if matching is None:
            if cursor is None:  # the first page is empty: nothing matches at all
                return page, RecordCount(0, False)
            return page, self._count(conn, codec, condition, exact_up_to)
        if matching <= exact_up_to:
            return page, RecordCount(matching, False)
        return page, self._estimate(conn, codec, condition, exact_up_to)

    def count(
        self,
        conn: sa.Connection,
        codec: EntityCodec,
        *,
        criteria: Any,
        context: CriteriaContext | None,
        where: sa.ColumnElement[bool] | None,
        exact_up_to: int = EXACT_COUNT_LIMIT,
    ) -> RecordCount:
        """How many records match `criteria` AND `where` (see `RecordCount`)."""
        return self._count(conn, codec, self._condition(codec, criteria, context, where),
                           exact_up_to)

    def _condition(
        self, codec: EntityCodec, criteria: Any, context: CriteriaContext | None,
        where: sa.ColumnElement[bool] | None,
    ) -> sa.ColumnElement[bool] | None:
        """`criteria` (compiled) AND `where`; None when neither is given."""
        parts = [] if criteria is None else [self.criteria_condition(codec, criteria, context)]
        if where is not None:
            parts.append(where)
        return sa.and_(*parts) if parts else None

    def _run_page(
        self,
        conn: sa.Connection,
        codec: EntityCodec,
        condition: sa.ColumnElement[bool] | None,
        *,
        sort: Sequence[str],
        limit: int,
        cursor: str | None,
        fields: Sequence[str] | None,
        read: Callable[[Mapping[Any, Any]], Record] | None,
        count_up_to: int | None = None,
    ) -> tuple[Page, int | None]:
        """The page, and with `count_up_to` the number of matching records up to
        `count_up_to + 1` (None when the page has no row to carry it)."""
        entity = codec.entity.name
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationFailed(
                "invalid limit",
                [ErrorDetail(f"must be a whole number from 1 to {MAX_LIMIT}", "/limit")],
            )
        keys = self.sort_keys(codec, sort, conn)
        slots = codec.select_fields(fields)
        if read is None or fields is not None:
            read = codec.reader(slots)
        statement, key_names = _select(codec, slots, keys)
        if count_up_to is not None:
            statement = statement.add_columns(
                sa.select(sa.func.count())
                .select_from(_capped(codec.table, condition, count_up_to))
                .correlate(None)  # counts the whole table's matches, not per row
                .scalar_subquery().label(_MATCHING))
        if condition is not None:
            statement = statement.where(condition)
        if cursor is not None:
            values = keyset.decode_cursor(cursor, entity, keys)
            statement = statement.where(keyset.after_condition(keys, values))
        statement = statement.order_by(*keyset.order_by(keys)).limit(limit + 1)
        try:
            rows = conn.execute(statement).mappings().all()
        except sa.exc.StatementError as exc:
            if cursor is None or isinstance(exc, sa.exc.DBAPIError):
                raise
            # a cursor value the column type cannot bind (a forged cursor)
            raise keyset.cursor_error("is not a valid cursor") from exc
        matching = int(rows[0][_MATCHING]) if rows and count_up_to is not None else None
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = keyset.encode_cursor(entity, keys, [last[n] for n in key_names])
        return Page([read(row) for row in rows], next_cursor), matching

    def _count(self, conn: sa.Connection, codec: EntityCodec,
               condition: sa.ColumnElement[bool] | None, exact_up_to: int) -> RecordCount:
        capped = _capped(codec.table, condition, exact_up_to)
        exact = int(conn.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one())
        if exact <= exact_up_to:
            return RecordCount(exact, False)
        return self._estimate(conn, codec, condition, exact_up_to)

    def estimate(self, conn: sa.Connection, codec: EntityCodec,
                 condition: sa.ColumnElement[bool] | None, exact_up_to: int) -> RecordCount:
        """The count of more than `exact_up_to` matches (see `_estimate`)."""
        return self._estimate(conn, codec, condition, exact_up_to)

    def _estimate(self, conn: sa.Connection, codec: EntityCodec,
                  condition: sa.ColumnElement[bool] | None, exact_up_to: int) -> RecordCount:
        """More than `exact_up_to` match: PostgreSQL's estimate (reused for ESTIMATE_TTL
        seconds per query), else "more than"."""
        if conn.dialect.name != "postgresql":
            return RecordCount(exact_up_to + 1, True)
        table = codec.table
        statement = sa.select(table.c.id)
        if condition is not None:
            statement = statement.where(condition)
        key = _query_key(statement)
        estimate = self._estimates.get(key) if key is not None else None
        if estimate is None:
            estimate = (_table_rows(conn, table) if condition is None
                        else _planner_rows(conn, statement))
            if key is not None:
                self._estimates.put(key, estimate)
        return RecordCount(max(exact_up_to + 1, estimate), True)


_MATCHING = "_matching"
"""The label of the bounded count a page query carries (`page_and_count`)."""


def _capped(table: sa.Table, condition: sa.ColumnElement[bool] | None,
            exact_up_to: int) -> sa.Subquery:
    """The ids of at most `exact_up_to + 1` matching records (what a bounded count counts)."""
    matching = sa.select(table.c.id).correlate(None)
    if condition is not None:
        matching = matching.where(condition)
    return matching.limit(exact_up_to + 1).subquery("capped")


class _Explain(Executable, ClauseElement):
    """`EXPLAIN (FORMAT JSON) <select>` with the select's parameters bound as usual."""

    inherit_cache = False

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def _query_key(statement: sa.Select[Any]) -> tuple[Any, ...] | None:
    """What identifies `statement` with its parameter values (None: it cannot be keyed).

    SQLAlchemy's own statement cache key (the structure) plus the bound values, as the
    dogpile caching recipe in SQLAlchemy's documentation builds it."""
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return None
    try:
        values = tuple(repr(param.effective_value) for param in cache_key.bindparams)
    except Exception:  # a value that cannot be rendered: do not cache
        return None
    return (cache_key.key, values)


def _planner_rows(conn: sa.Connection, statement: sa.Select[Any]) -> int:
    """The PostgreSQL planner's row estimate for `statement`."""
    plan = conn.execute(_Explain(statement)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _table_rows(conn: sa.Connection, table: sa.Table) -> int:
    """PostgreSQL's row count estimate of a whole table (statistics; -1 before ANALYZE)."""
    rows = conn.execute(
        sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
        {"name": table.name},
    ).scalar()
    if rows is None or rows < 0:
        return _planner_rows(conn, sa.select(table.c.id))
    return int(rows)


def _select(
    codec: EntityCodec, slots: Sequence[FieldSlot], keys: Sequence[keyset.SortKey]
) -> tuple[sa.Select[Any], list[str]]:
    """SELECT of the wanted columns plus any sort expression not among them."""
    columns = codec.columns_of(slots)
    selected = {column.name for column in columns}
    extra: list[sa.ColumnElement[Any]] = []
    key_names: list[str] = []
    for index, key in enumerate(keys):
        expression = key.expression
        if (
            isinstance(expression, sa.Column)
            and expression.table is codec.table
            and expression.name in selected
        ):
            key_names.append(expression.name)
        else:
            label = f"_sort_{index}"
            extra.append(expression.label(label))
            key_names.append(label)
    return sa.select(*columns, *extra), key_names
