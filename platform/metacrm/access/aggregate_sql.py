"""One aggregate query as one SQL statement, within one subject's rights.

Built by `ScopedAggregates` (scoped_aggregates.py) from an `AggregateQuery`: paths resolve
against the entity as the subject may see it (a hidden field is refused like an unknown
one, naming the pointer it came from); a path through a reference LEFT JOINs the referenced
table with that entity's read scope in the ON clause, so a record the subject may not read
contributes no value (it groups as empty) rather than leaking one; the subject's read scope
of the entity itself is in the WHERE clause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from metacrm.access.aggregate_query import AggregateQuery, Dimension, Measure
from metacrm.criteria.sql import compile_sql
from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import FieldDef
from metacrm.storage.date_buckets import bucket_expression

if TYPE_CHECKING:
    from metacrm.access.scoped_aggregates import ScopedAggregates

Column = sa.ColumnElement[Any]


def _and(parts: Sequence[sa.ColumnElement[bool] | None]) -> sa.ColumnElement[bool] | None:
    kept = [part for part in parts if part is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else sa.and_(*kept)


class GroupValues(sa.types.TypeDecorator[str]):
    """The comma-separated values of a `values` measure, each read as its column reads it:
    a decimal stored scaled (SQLite's `ExactDecimal`) comes back as the decimal."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, item: sa.types.TypeEngine[Any]) -> None:
        super().__init__()
        self.item = item

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        read = getattr(self.item, "process_result_value", None)
        if read is None or dialect.name == "postgresql":
            return str(value)
        return ",".join(str(read(int(part), dialect)) for part in str(value).split(",")
                        if part)


class AggregateBuilder:
    """Resolves the paths of one query and builds its statement."""

    def __init__(self, scoped: ScopedAggregates, entity: str, dialect: str,
                 source: sa.FromClause | None = None) -> None:
        """`source`: rows to group instead of the entity's table, shaped like it and
        already inside the subject's scope (the records at a past instant)."""
        self.scoped = scoped
        self.entity = entity
        self.dialect = dialect
        self.scoped_source = source is not None
        self.table = cast(sa.Table, source) if source is not None \
            else scoped.record_table(entity)
        self.visible = scoped.policy.visible_entity(scoped.subject, entity)
        self.joins: dict[str, tuple[sa.FromClause, sa.ColumnElement[bool]]] = {}
        self.errors: list[ErrorDetail] = []

    # --- paths ---------------------------------------------------------------------------

    def _unknown(self, name: str, entity: str, pointer: str) -> None:
        self.errors.append(ErrorDetail(f"{name!r} is not a field of {entity!r}", pointer))

    def resolve(self, path: str, pointer: str) -> tuple[FieldDef, sa.FromClause] | None:
        """The field a path names and the table (or join) holding it; None after an error."""
        head, _, tail = path.partition(".")
        if not tail:
            fdef = self.visible.field(head) or SYSTEM_FIELDS.get(head)
            if fdef is None or head == "version":
                self._unknown(head, self.entity, pointer)
                return None
            return fdef, self.table
        ref = self.visible.field(head)
        if ref is None or ref.type != "reference" or ref.target_entity is None:
            self._unknown(head, self.entity, pointer)
            return None
        target = ref.target_entity
        target_visible = self.scoped.policy.visible_entity(self.scoped.subject, target)
        fdef = target_visible.field(tail) or SYSTEM_FIELDS.get(tail)
        if fdef is None:
            self._unknown(tail, target, pointer)
            return None
        if head not in self.joins:
            alias = self.scoped.record_table(target).alias(f"via_{head}")
            on = _and([alias.c.id == self.table.c[head],
                       self.scoped.scope_condition_on(target, "read", alias)])
            self.joins[head] = (alias, on if on is not None else sa.true())
        return fdef, self.joins[head][0]

    def column(self, fdef: FieldDef, table: sa.FromClause, part: int = 0) -> Column:
        if fdef.name in SYSTEM_FIELDS and SYSTEM_FIELDS[fdef.name] is fdef:
            return cast(Column, table.c[fdef.name])
        spec = self.scoped.registry.get(fdef.type).columns(fdef)[part]
        return cast(Column, table.c[spec.name])

    def path_column(self, path: str, pointer: str) -> tuple[FieldDef, Column] | None:
        found = self.resolve(path, pointer)
        if found is None:
            return None
        return found[0], self.column(*found)

    # --- conditions ----------------------------------------------------------------------

    def criteria(self, tree: Any, pointer: str) -> sa.ColumnElement[bool] | None:
        if tree is None:
            return None
        try:
            return compile_sql(tree, self.visible, self.table,
                               self.scoped.registry, self.scoped.context)
        except ValidationFailed as exc:
            self.errors.extend(ErrorDetail(e.message, f"{pointer}{e.pointer}", e.source)
                               for e in exc.errors)
            return None

    def where(self, where: Mapping[str, Sequence[str]], pointer: str
              ) -> sa.ColumnElement[bool] | None:
        parts: list[sa.ColumnElement[bool] | None] = []
        for path, values in where.items():
            found = self.path_column(path, f"{pointer}/{path}")
            if found is not None:
                parts.append(found[1].in_([str(v) for v in values]))
        return _and(parts)

    # --- dimensions and measures ---------------------------------------------------------

    def dimension(self, dim: Dimension, query: AggregateQuery) -> Column | None:
        found = self.path_column(dim.path, dim.pointer)
        if found is None:
            return None
        fdef, column = found
        if dim.bucket is not None:
            if fdef.type not in ("date", "datetime"):
                self.errors.append(ErrorDetail(
                    f"a bucket needs a date or datetime field; {dim.path!r} is a {fdef.type}",
                    f"{dim.pointer}/bucket"))
                return None
            return bucket_expression(column, dim.bucket, dialect=self.dialect,
                                     zone=query.time_zone, fiscal_start=query.fiscal_start,
                                     is_datetime=fdef.type == "datetime")
        if dim.mapping is not None:
            if not dim.mapping:
                return sa.null()
            return sa.case(dict(dim.mapping.items()), value=column, else_=sa.null())
        return column

    def measure(self, measure: Measure) -> Column | None:
        condition = _and([self.criteria(measure.criteria, f"{measure.pointer}/filter"),
                          self.where(measure.where, f"{measure.pointer}/where")])
        if measure.op == "count":
            count = sa.func.count()
            return count.filter(condition) if condition is not None else count
        if measure.path is None:
            self.errors.append(ErrorDetail(f"{measure.op!r} needs a field", measure.pointer))
            return None
        found = self.resolve(measure.path, f"{measure.pointer}/field")
        if found is None:
            return None
        fdef, table = found
        value = self.column(fdef, table)
        if fdef.type == "money":
            currency = measure.currency or str(fdef.option("currency") or "")
            condition = _and([condition, self.column(fdef, table, 1) == currency])
        aggregate: Column
        if measure.op == "count_values":
            aggregate = sa.func.count(value)
        elif measure.op == "count_distinct":
            aggregate = sa.func.count(sa.distinct(value))
        elif measure.op == "values":  # numbers only (the compiler checks): no comma inside
            text = sa.cast(value, sa.Text())
            aggregate = (sa.func.string_agg(text, ",", type_=GroupValues(value.type))
                         if self.dialect == "postgresql"
                         else sa.func.group_concat(text, ",", type_=GroupValues(value.type)))
        elif measure.op == "sum" and fdef.type == "integer":
            # PostgreSQL sums bigints as numeric; an integer sum stays an integer
            aggregate = sa.func.sum(value, type_=sa.BigInteger())
        elif measure.op in ("sum", "min", "max"):
            aggregate = getattr(sa.func, measure.op)(value, type_=value.type)
        elif measure.op == "weighted_sum" and measure.weight_path is not None:
            weight = self.path_column(measure.weight_path, measure.pointer)
            if weight is None:
                return None
            factor = sa.case({k: int(v) for k, v in measure.weights.items()},
                             value=weight[1], else_=0)
            aggregate = sa.func.sum(value * factor, type_=value.type)
        else:
            self.errors.append(ErrorDetail(f"unknown measure {measure.op!r}", measure.pointer))
            return None
        if condition is not None:
            aggregate = aggregate.filter(condition)
        if measure.op == "sum" and fdef.type == "integer":
            return sa.cast(aggregate, sa.BigInteger())
        return aggregate

    # --- the statement -------------------------------------------------------------------

    def statement(self, query: AggregateQuery) -> sa.Select[Any]:
        dims = [self.dimension(dim, query) for dim in query.dimensions]
        measures = [self.measure(measure) for measure in query.measures]
        scope = None if self.scoped_source else \
            self.scoped.scope_condition_on(self.entity, "read", self.table)
        where = _and([scope, self.criteria(query.criteria, query.criteria_pointer),
                      self.criteria(query.run_criteria, "/parameters"),
                      self.where(query.where, query.where_pointer)])
        if self.errors:
            raise ValidationFailed("invalid report", self.errors)
        labelled = [cast(Column, d).label(f"d{i}") for i, d in enumerate(dims)]
        columns = [*labelled, *(cast(Column, m).label(f"m{i}")
                                for i, m in enumerate(measures))]
        source: sa.FromClause = self.table
        for alias, on in self.joins.values():
            source = source.outerjoin(alias, on)
        statement = sa.select(*columns).select_from(source)
        if where is not None:
            statement = statement.where(where)
        if labelled:
            statement = statement.group_by(*(cast(Column, d) for d in dims))
        return statement

    def list_statement(self, paths: Sequence[tuple[str, str]], criteria: Any,
                       where: Mapping[str, Sequence[str]]) -> tuple[
                           sa.Select[Any], list[FieldDef]]:
        """The rows of a list report: the id and each path's columns (money: amount and
        currency), in id order."""
        columns: list[Column] = [cast(Column, self.table.c.id)]
        fields: list[FieldDef] = []
        for path, pointer in paths:
            found = self.resolve(path, pointer)
            if found is None:
                continue
            fdef, table = found
            fields.append(fdef)
            columns.append(self.column(fdef, table))
            if fdef.type == "money":
                columns.append(self.column(fdef, table, 1))
        condition = _and([self.scoped.scope_condition_on(self.entity, "read", self.table),
                          self.scoped.scope_condition_on(self.entity, "export", self.table),
                          self.criteria(criteria, "/filter"), self.where(where, "/where")])
        if self.errors:
            raise ValidationFailed("invalid report", self.errors)
        source: sa.FromClause = self.table
        for alias, on in self.joins.values():
            source = source.outerjoin(alias, on)
        statement = sa.select(*columns).select_from(source).order_by(self.table.c.id)
        if condition is not None:
            statement = statement.where(condition)
        return statement, fields
