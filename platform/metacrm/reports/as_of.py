""""As of" runs: a summary, matrix or list report over the records as they stood at a past
instant, rebuilt from the audit trail (`ScopedAggregates.records_as_of`).

The records come back with their values then; grouping, filtering and measuring happen
here in Python over them (criteria through `metacrm.criteria.predicate`, which mirrors the
SQL semantics), and the grouped rows go through the summary runner's own subtotals, totals,
averages and ratios — so an as-of result has exactly the shape of a live one. Rights are
the caller's current ones (see `metacrm.access.as_of_reads`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from metacrm.access.aggregate_query import Measure
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.criteria.predicate import compile_predicate
from metacrm.criteria.tree import SYSTEM_FIELDS, criteria_fields
from metacrm.fieldtypes.money import Money
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import DimensionDef, EntityDef, FieldDef, ReportDef
from metacrm.reports.result import ReportResult, ResultColumn, json_value
from metacrm.reports.run_options import RunOptions
from metacrm.reports.summary import SummaryRunner, _sort_key

KINDS = ("summary", "matrix", "list")
"""Report types an as-of run rebuilds (pipeline reports read the trail themselves)."""

Record = Mapping[str, Any]


def parse_as_of(raw: Any, now: datetime) -> datetime:
    """The `as_of` parameter: an ISO date-time with an offset (or Z), not in the future."""
    moment = None
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed("invalid report parameters", [ErrorDetail(
            "must be a date-time with its offset, e.g. 2026-03-01T00:00:00Z", "/as_of")])
    if moment > now:
        raise ValidationFailed("invalid report parameters", [ErrorDetail(
            "must not be in the future", "/as_of")])
    return moment.astimezone(UTC)


def _and(*trees: Any) -> Any:
    kept = [tree for tree in trees if tree is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else {"and": kept}


class PastRecords:
    """The readable records of the report's entity at the instant, and predicates over
    them."""

    def __init__(self, conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
                 entity: EntityDef, instant: datetime, run_criteria: Any,
                 operations: tuple[str, ...] = ("read",)) -> None:
        self.scoped = scoped
        self.entity = scoped.policy.visible_entity(scoped.subject, entity.name)
        self.report = report
        paths = self.paths(report, run_criteria)
        self.records = scoped.records_as_of(conn, entity.name, instant, paths, operations)
        self.keep = self.predicate(_and(report.filter, run_criteria), report.where, "/filter")

    @staticmethod
    def paths(report: ReportDef, run_criteria: Any) -> list[tuple[str, str]]:
        """Every field path the run reads, with where in the document it comes from."""
        out = [(d.path, f"/group_by/{i}") for i, d in enumerate(report.dimensions)]
        out.extend((d.path, f"/columns/{i}") for i, d in enumerate(report.columns))
        out.extend((path, f"/where/{path}") for path in report.where)
        for tree, where in ((report.filter, "/filter"), (run_criteria, "/filter")):
            if tree is not None:
                out.extend((name, where) for name in criteria_fields(tree))
        for index, metric in enumerate(report.metrics):
            if metric.get("field"):
                out.append((str(metric["field"]), f"/metrics/{index}/field"))
            if metric.get("filter") is not None:
                out.extend((name, f"/metrics/{index}/filter")
                           for name in criteria_fields(metric["filter"]))
            out.extend((str(path), f"/metrics/{index}/where") for path in metric["where"] or ())
        return out

    def predicate(self, tree: Any, where: Mapping[str, Sequence[str]], pointer: str
                  ) -> Callable[[Record], bool]:
        checks: list[Callable[[Record], bool]] = []
        if tree is not None:
            try:
                checks.append(compile_predicate(tree, self.entity, self.scoped.registry,
                                                self.scoped.context))
            except ValidationFailed as error:
                raise ValidationFailed("invalid report", [
                    ErrorDetail(e.message, f"{pointer}{e.pointer}") for e in error.errors
                ]) from None
        checks.extend(_in(path, allowed) for path, allowed in where.items())
        return lambda record: all(check(record) for check in checks)

    def matching(self) -> list[Record]:
        return [record for record in self.records if self.keep(record)]


def _in(path: str, allowed: Sequence[str]) -> Callable[[Record], bool]:
    """`where`'s test of one path: the value (stored form) is one of `allowed`."""
    wanted = {str(v) for v in allowed}
    return lambda record: _stored(record.get(path)) in wanted


def _stored(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AsOfSummary(SummaryRunner):
    """The summary runner with its grouped rows computed from the past records."""

    def __init__(self, past: PastRecords, report: ReportDef, options: RunOptions) -> None:
        super().__init__(past.scoped, report, options, None)
        self.past = past
        self.rows = past.matching()
        self.zone = ZoneInfo(options.time_zone)
        self._measure_checks = [past.predicate(m.criteria, m.where, m.pointer + "/filter")
                                for m in self.measures]

    def grouped(self, conn: sa.Connection, dims: Sequence[DimensionDef],
                measures: Sequence[Measure]) -> list[tuple[Any, ...]]:
        checks = [self._measure_checks[self.measures.index(m)] for m in measures]
        groups: dict[tuple[Any, ...], list[list[Any]]] = {}
        for record in self.rows:
            key = tuple(self._dimension(d, record.get(d.path)) for d in dims)
            values = groups.setdefault(key, [[] for _ in measures])
            for index, (measure, check) in enumerate(zip(measures, checks, strict=True)):
                if check(record):
                    values[index].append(record.get(measure.path) if measure.path else 1)
        rows = [key + tuple(self._measure(m, v) for m, v in zip(measures, values, strict=True))
                for key, values in groups.items()]
        rows.sort(key=lambda row: tuple(_sort_key(v) for v in row[:len(dims)]))
        return rows

    def _dimension(self, dim: DimensionDef, value: Any) -> Any:
        if dim.bucket is None or value is None:
            return value
        day = value.astimezone(self.zone).date() if isinstance(value, datetime) else value
        return self.dim_value(dim, day) if isinstance(day, date) else None

    def _measure(self, measure: Measure, values: list[Any]) -> Any:
        if measure.op == "count":
            return len(values)
        present = [v for v in values if v is not None]
        if measure.op == "count_values":
            return len(present)
        if measure.op == "count_distinct":
            return len({json_value(v) if not isinstance(v, Money) else str(v)
                        for v in present})
        numbers = list(self._numbers(measure, present))
        if not numbers:
            return None
        if measure.op == "sum":
            return sum(numbers, Decimal(0)) if any(isinstance(n, Decimal) for n in numbers) \
                else sum(numbers)
        return min(numbers) if measure.op == "min" else max(numbers)

    def _numbers(self, measure: Measure, values: list[Any]) -> Iterator[Any]:
        fdef = self.past.entity.field(measure.path or "") or SYSTEM_FIELDS.get(
            measure.path or "")
        for value in values:
            if isinstance(value, Money):
                currency = measure.currency or str(
                    fdef.option("currency") if fdef is not None else "")
                if value.currency == currency:
                    yield value.amount
            else:
                yield value


class SqlAsOfSummary(SummaryRunner):
    """The summary runner grouping the records then in SQL (`as_of_sql`), like a live run."""

    def __init__(self, scoped: ScopedRepository, report: ReportDef, options: RunOptions,
                 run_criteria: Any, instant: datetime, fields: Mapping[str, FieldDef]
                 ) -> None:
        super().__init__(scoped, report, options, run_criteria)
        self.instant = instant
        self.fields = fields

    def grouped(self, conn: sa.Connection, dims: Sequence[DimensionDef],
                measures: Sequence[Measure]) -> list[tuple[Any, ...]]:
        rows = self.scoped.aggregate_as_of(conn, self.report.entity,
                                           self.query(dims, measures), self.instant,
                                           self.fields)
        n = len(dims)
        converted = [tuple(self.dim_value(d, row[i]) for i, d in enumerate(dims)) + row[n:]
                     for row in rows]
        converted.sort(key=lambda row: tuple(_sort_key(v) for v in row[:n]))
        return converted


def as_of_summary(conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
                  entity: EntityDef, options: RunOptions, run_criteria: Any,
                  instant: datetime) -> ReportResult:
    """Grouped in SQL when every path rolls back there, else over the Python roll-back."""
    scoped.require(entity.name, "read")
    paths = [path for path, _ in PastRecords.paths(report, run_criteria)]
    fields = scoped.as_of_sql_fields(entity.name, paths)
    if fields is not None:
        return SqlAsOfSummary(scoped, report, options, run_criteria, instant,
                              fields).run(conn)
    past = PastRecords(conn, scoped, report, entity, instant, run_criteria)
    return AsOfSummary(past, report, options).run(conn)


def as_of_list(conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
               entity: EntityDef, run_criteria: Any, instant: datetime) -> ReportResult:
    """A list report's rows at the instant (read AND export scope, as for a live list)."""
    past = PastRecords(conn, scoped, report, entity, instant, run_criteria,
                       ("read", "export"))
    registry = scoped.registry
    names = [dim.path for dim in report.columns]
    fields = {n: _field_of(scoped, past.entity, n) for n in names}

    def cell(name: str, value: Any) -> Any:
        fdef = fields[name]
        if value is None or fdef.name in SYSTEM_FIELDS:
            return json_value(value)
        return registry.get(fdef.type).to_json(fdef, value)

    rows = [{"id": record["id"], **{n: cell(n, record.get(n)) for n in names}}
            for record in past.matching()]
    columns = [ResultColumn("id", {"en": "ID", "ru": "ID"}, "field", "id")]
    columns.extend(ResultColumn(n, dim.label or f.label, "field", f.type)
                   for n, dim, f in zip(names, report.columns, fields.values(), strict=True))
    return ReportResult(columns, rows)


def _field_of(scoped: ScopedRepository, entity: EntityDef, path: str) -> FieldDef:
    """The field a column's path names (checked by `records_as_of`): the entity's own, a
    system column, or the field of the referenced entity behind `reference.field`."""
    head, _, tail = path.partition(".")
    own = entity.field(head) or SYSTEM_FIELDS[head]
    if not tail:
        return own
    target = scoped.policy.visible_entity(scoped.subject, str(own.target_entity))
    return target.field(tail) or SYSTEM_FIELDS[tail]
