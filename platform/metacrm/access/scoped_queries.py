"""Reads beyond pages and counts, still within one subject's rights: exports, grouped sums
and equality matches.

Services that need more than a list page (a CSV export, kanban column totals, the duplicate
check of a conversion) ask for it here instead of building their own SELECT and ANDing the
scope in by hand: each operation takes field names, never SQL, checks them against the
subject's field security (a hidden field is refused exactly like an unknown one) and ANDs
the subject's read scope — and any further scope the operation needs — into its SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_reads import ScopedReads
from metacrm.criteria.casefold import fold_case
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.storage.record_codec import Record
from metacrm.storage.record_query import Page


@dataclass(frozen=True, slots=True)
class GroupedSum:
    """The sum of a money field's amounts over the records of one group and currency."""

    group: Any
    currency: str | None
    total: Decimal


def _and(parts: Sequence[sa.ColumnElement[bool] | None]) -> sa.ColumnElement[bool] | None:
    kept = [part for part in parts if part is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else sa.and_(*kept)


EXACT_ANY = 2**62
"""`exact_up_to` of a count that is always exact."""


class ScopedQueries(ScopedReads):
    """Exports, grouped sums and matches of one subject (see the module docstring)."""

    def export_page(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        criteria: Any = None,
        q: Any = None,
        sort: Sequence[str] = (),
        ids: Sequence[str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """One page of the records inside the read scope AND the export scope matching
        `criteria`, `q` (and `ids` when given), every visible field, hidden ones stripped.
        Forbidden when no role grants read or export on the entity."""
        self.require(entity, "read")
        self.require(entity, "export")
        where = _and([
            self.read_condition(entity, criteria, q),
            self.condition(entity, "export"),
            None if ids is None
            else self._repository.table(entity).c.id.in_([str(i) for i in ids]),
        ])
        return self._repository.query(conn, entity, sort=sort, limit=limit, cursor=cursor,
                                      fields=self.visible_fields(entity, None), where=where)

    def rows_after(
        self, conn: sa.Connection, entity: str, *, criteria: Any = None,
        fields: Sequence[str] | None = None, after: str | None = None, limit: int = 5000,
    ) -> list[Record]:
        """One batch of a walk in id order over the readable records matching `criteria`
        (checked against the fields the subject may see), hidden fields stripped: the
        records whose id follows `after`, at most `limit` of them. Forbidden without a
        read grant. Segments resolve their members with it (`metacrm.marketing`)."""
        wanted, where = self._prepare(entity, criteria, None, (), fields)
        return self._repository.rows_after(conn, entity, where=where, fields=wanted,
                                           after=after, limit=limit)

    def ids_after(
        self, conn: sa.Connection, entity: str, *, criteria: Any = None,
        after: str | None = None, limit: int = 10000,
    ) -> list[str]:
        """`rows_after` with only the ids."""
        self.require(entity, "read")
        return self._repository.ids_after(
            conn, entity, where=self.read_condition(entity, criteria, None), after=after,
            limit=limit)

    def exact_count(self, conn: sa.Connection, entity: str, *, criteria: Any = None) -> int:
        """How many readable records match `criteria`, exactly however many (a segment's
        count preview: an estimate would not say whether a mailing reaches 1,001 or
        40,000 people)."""
        self.require(entity, "read")
        counted = self._repository.count(conn, entity,
                                         where=self.read_condition(entity, criteria, None),
                                         exact_up_to=EXACT_ANY)
        return counted.value

    def grouped_sums(
        self, conn: sa.Connection, entity: str, *, group_by: str, money_field: str,
        criteria: Any = None,
    ) -> list[GroupedSum]:
        """The amounts of `money_field` summed per value of `group_by` and per stored
        currency, over the readable records matching `criteria` that carry an amount.

        Forbidden without a read grant; ValidationFailed when either field is unknown or
        hidden from the subject (a sum would leak a hidden field's values) or
        `money_field` is not a money field.
        """
        self.require(entity, "read")
        visible = self.policy.visible_entity(self.subject, entity)
        group_def, money_def = visible.field(group_by), visible.field(money_field)
        errors = []
        if group_def is None:
            errors.append(ErrorDetail(f"{group_by!r} is not a field of {entity!r}",
                                      "/group_by"))
        if money_def is None or money_def.type != "money":
            errors.append(ErrorDetail(f"{money_field!r} is not a money field of {entity!r}",
                                      "/money_field"))
        if errors or group_def is None or money_def is None:
            raise ValidationFailed("invalid totals", errors)
        table = self._repository.table(entity)
        group_column = table.c[self._columns(group_def)[0]]
        amount_name, currency_name = self._columns(money_def)[:2]
        amount, currency = table.c[amount_name], table.c[currency_name]
        total = sa.func.sum(amount, type_=amount.type).label("total")
        statement = (sa.select(group_column.label("grp"), currency.label("currency"), total)
                     .where(amount.is_not(None))
                     .group_by(group_column, currency)
                     .order_by(group_column, currency))
        where = self.read_condition(entity, criteria, None)
        if where is not None:
            statement = statement.where(where)
        return [GroupedSum(row.grp, row.currency, Decimal(row.total))
                for row in conn.execute(statement) if row.total is not None]

    def first_equal(
        self, conn: sa.Connection, entity: str, values: Mapping[str, Any], *,
        ignore_case: Collection[str] = (), sort: Sequence[str] = ("created_at",),
    ) -> Record | None:
        """The first readable record (in `sort` order) whose stored values equal `values`
        (storage form, one per field; fields in `ignore_case` compare case-folded as list
        filters do), hidden fields stripped; None when there is none or no read grant.
        ValidationFailed when a field is unknown or hidden from the subject."""
        if not self.scope(entity, "read").allowed or not values:
            return None
        visible = self.policy.visible_entity(self.subject, entity)
        unknown = [ErrorDetail(f"{name!r} is not a field of {entity!r}", f"/{name}")
                   for name in values if visible.field(name) is None]
        if unknown:
            raise ValidationFailed("invalid match", unknown)
        table = self._repository.table(entity)
        conditions: list[sa.ColumnElement[bool] | None] = [self.condition(entity, "read")]
        for name, stored in values.items():
            if name in ignore_case and isinstance(stored, str):
                conditions.append(sa.func.lower(table.c[name]) == fold_case(stored))
            else:
                conditions.append(table.c[name] == stored)
        page = self._repository.query(conn, entity, where=_and(conditions), sort=sort,
                                      limit=1, fields=self.visible_fields(entity, None))
        return page.records[0] if page.records else None

    def matching(
        self, conn: sa.Connection, entity: str, fields: Sequence[str],
        keys: Collection[tuple[Any, ...]], *, chunk: int = 200, whole: bool = False,
    ) -> list[Record]:
        """The readable records whose `fields` (single-column fields, storage values) equal
        one of `keys` — imports resolve references and upsert keys a batch at a time —
        with `fields` (`whole`: every visible field) and the system columns, hidden fields
        refused as unknown ones."""
        if not self.scope(entity, "read").allowed or not keys:
            return []
        visible = self.policy.visible_entity(self.subject, entity)
        unknown = [ErrorDetail(f"{name!r} is not a field of {entity!r}", f"/{name}")
                   for name in fields if name != "id" and visible.field(name) is None]
        if unknown:
            raise ValidationFailed("invalid match", unknown)
        table = self._repository.table(entity)
        columns = [table.c[name] for name in fields]
        wanted = (self.visible_fields(entity, None) if whole
                  else [name for name in fields if name != "id"])
        found: list[Record] = []
        ordered = list(keys)
        for start in range(0, len(ordered), chunk):
            part = ordered[start:start + chunk]
            if len(columns) == 1:
                match: sa.ColumnElement[bool] = columns[0].in_([key[0] for key in part])
            else:
                match = sa.or_(*[sa.and_(*[column == value for column, value
                                           in zip(columns, key, strict=True)])
                                 for key in part])
            cursor: str | None = None
            while True:
                page = self._repository.query(
                    conn, entity, where=_and([self.condition(entity, "read"), match]),
                    limit=500, cursor=cursor, fields=wanted)
                found.extend(page.records)
                cursor = page.next_cursor
                if cursor is None:
                    break
        return found

    def _columns(self, field: Any) -> list[str]:
        """The physical column names of a field (the first is its main column)."""
        return [spec.name for spec in self.registry.get(field.type).columns(field)]
