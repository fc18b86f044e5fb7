"""Compile report documents: dimensions (paths, date buckets), metrics, filters, kinds.

Paths are `field` or `reference.field` (one hop through a reference field); the checks
here are structural (the field exists, its type fits the use). Which fields a user may
group or sum by is decided at run time by the access layer (`metacrm.reports`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from metacrm.criteria.tree import criteria_field
from metacrm.metadata.compiler.context import CompileContext, Reporter, suggestion
from metacrm.metadata.compiler.freeze import labels
from metacrm.metadata.compiler.triggers import cron_problem
from metacrm.metadata.documents import Document
from metacrm.metadata.model import (
    DimensionDef,
    EntityDef,
    FieldDef,
    ReportDef,
    SnapshotDef,
    SourceRef,
    SubscriptionDef,
)

NUMERIC_TYPES = frozenset({"integer", "decimal", "percent", "money"})
"""Types `sum` and `avg` add up; `min` and `max` need a type with ordered comparisons."""
ORDERED_OPERATOR = "gt"
DATE_TYPES = frozenset({"date", "datetime"})
"""Types a dimension may bucket (system timestamps are datetimes)."""
WHERE_TYPES = frozenset({"text", "picklist", "state", "user", "reference", "email", "phone"})
"""Types a `where` lists values of (their stored form is the text written)."""
UNGROUPABLE_TYPES = frozenset({"json", "textarea", "money", "multi_picklist", "regarding"})
"""Types a dimension cannot group by (no single comparable column, or long text)."""
METRIC_KINDS = frozenset({"summary", "matrix"})
"""Report kinds whose result columns are the document's metrics."""


def metric_name(raw: Any) -> str:
    """A metric's result column: its `name`, else `<op>_<field>`, else `count`."""
    if raw.get("name"):
        return str(raw["name"])
    if raw.get("field"):
        return f"{raw['op']}_{str(raw['field']).replace('.', '_')}"
    return str(raw["op"])


def _dimension(raw: Any) -> DimensionDef:
    if isinstance(raw, str):
        return DimensionDef(raw)
    return DimensionDef(str(raw["field"]), raw.get("bucket"), labels(raw.get("label")))


def _where(raw: Any) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        return MappingProxyType({})
    return MappingProxyType({str(k): tuple(str(v) for v in values)
                             for k, values in raw.items()})


def _snapshot(raw: Any) -> SnapshotDef | None:
    if not isinstance(raw, Mapping):
        return None
    return SnapshotDef(str(raw["schedule"]), int(raw.get("keep", 100)))


def _subscriptions(raw: Any) -> tuple[SubscriptionDef, ...]:
    return tuple(
        SubscriptionDef(str(item["name"]), str(item["schedule"]),
                        tuple(str(r) for r in item.get("roles") or ()),
                        tuple(str(u) for u in item.get("users") or ()),
                        MappingProxyType(dict(item.get("parameters") or {})))
        for item in raw or () if isinstance(item, Mapping))


def build_report(document: Document) -> ReportDef:
    body = document.body
    metrics = tuple(
        MappingProxyType({
            "op": str(raw["op"]),
            "field": raw.get("field"),
            "name": metric_name(raw),
            "label": labels(raw.get("label")),
            "filter": raw.get("filter"),
            "where": _where(raw.get("where")),
            "currency": raw.get("currency"),
            "numerator": raw.get("numerator"),
            "denominator": raw.get("denominator"),
        })
        for raw in body.get("metrics") or ()
    )
    dimensions = tuple(_dimension(raw) for raw in body.get("group_by") or ())
    return ReportDef(
        name=document.name,
        label=labels(body.get("label")),
        description=labels(body.get("description")),
        entity=str(body["entity"]),
        type=str(body.get("type") or "summary"),
        group_by=tuple(d.path for d in dimensions),
        dimensions=dimensions,
        columns=tuple(_dimension(raw) for raw in body.get("columns") or ()),
        metrics=metrics,
        filter=body.get("filter"),
        where=_where(body.get("where")),
        pipeline=body.get("pipeline"),
        date_field=body.get("date_field"),
        amount_field=body.get("amount_field"),
        period=body.get("period"),
        totals=bool(body.get("totals", True)),
        defaults=MappingProxyType(dict(body.get("defaults") or {})),
        chart=body.get("chart"),
        snapshot=_snapshot(body.get("snapshot")),
        subscriptions=_subscriptions(body.get("subscriptions")),
        pack=document.pack,
        source=SourceRef(document.source),
    )


class ReportChecker:
    """The cross-document checks of one report (entity, paths, metrics, kind)."""

    def __init__(self, report_def: ReportDef, context: CompileContext) -> None:
        self.report_def = report_def
        self.context = context
        self.report: Reporter = context.reporter(report_def.source.file)

    def field(self, entity: EntityDef, path: str, pointer: str) -> FieldDef | None:
        """The field a path names (through one reference), or None after an error."""
        head, _, tail = path.partition(".")
        if not tail:
            if not self.context.check_field(entity, head, self.report, pointer, system=True):
                return None
            return criteria_field(entity, head)
        ref = entity.field(head)
        if ref is None or ref.type != "reference" or ref.target_entity is None:
            references = [f.name for f in entity.fields if f.type == "reference"]
            self.report.error(f"'{head}' is not a reference field of entity '{entity.name}'"
                              + suggestion(head, references), pointer)
            return None
        target = self.context.entities.get(ref.target_entity)
        if target is None:
            return None
        if not self.context.check_field(target, tail, self.report, pointer, system=True):
            return None
        return criteria_field(target, tail)

    def dimension(self, entity: EntityDef, dim: DimensionDef, pointer: str) -> None:
        fdef = self.field(entity, dim.path, pointer)
        if fdef is None:
            return
        if dim.bucket is not None and fdef.type not in DATE_TYPES:
            self.report.error(f"a bucket needs a date or datetime field; '{dim.path}' is a "
                              f"{fdef.type}", f"{pointer}/bucket")
        elif fdef.type in UNGROUPABLE_TYPES:
            self.report.error(f"cannot group by '{dim.path}': a {fdef.type} field", pointer)

    def where(self, entity: EntityDef, where: Mapping[str, Any], pointer: str) -> None:
        for path in where:
            fdef = self.field(entity, path, f"{pointer}/{path}")
            if fdef is not None and fdef.type not in WHERE_TYPES:
                self.report.error(f"'where' lists values of text, choice, state, user or "
                                  f"reference fields; '{path}' is a {fdef.type}",
                                  f"{pointer}/{path}")

    def metric(self, entity: EntityDef, metric: Mapping[str, Any], names: set[str],
               pointer: str) -> None:
        op = metric["op"]
        if op == "ratio":
            for part in ("numerator", "denominator"):
                if metric[part] not in names or metric[part] == metric["name"]:
                    self.report.error(f"'{metric[part]}' is not another metric of this report",
                                      f"{pointer}/{part}")
            return
        if metric["filter"] is not None:
            self.context.check_criteria(metric["filter"], entity, self.report,
                                        f"{pointer}/filter")
        self.where(entity, metric["where"], f"{pointer}/where")
        path = metric["field"]
        if path is None:
            return
        fdef = self.field(entity, str(path), f"{pointer}/field")
        if fdef is None:
            return
        system = fdef.name in ("created_at", "updated_at") and entity.field(fdef.name) is None
        type_name = "system column" if system else fdef.type
        if op in ("sum", "avg", "median") and type_name not in NUMERIC_TYPES:
            self.report.error(f"'{op}' needs a numeric field; '{path}' is a {type_name}",
                              f"{pointer}/field")
        elif op in ("min", "max") and ORDERED_OPERATOR not in fdef.operators and not system:
            self.report.error(f"'{op}' needs a field with an order; '{path}' is a "
                              f"{fdef.type}", f"{pointer}/field")
        elif op == "count_distinct" and fdef.type in UNGROUPABLE_TYPES:
            self.report.error(f"cannot count the distinct values of a {fdef.type} field",
                              f"{pointer}/field")
        if metric["currency"] is not None and fdef.type != "money":
            self.report.error("'currency' is only for money fields", f"{pointer}/currency")

    def kind(self, entity: EntityDef) -> None:
        report_def, report = self.report_def, self.report
        kind = report_def.type
        if kind in METRIC_KINDS and not report_def.metrics:
            report.error(f"a {kind} report needs at least one metric", "/metrics")
        if kind not in METRIC_KINDS and report_def.metrics and kind != "forecast":
            report.error(f"a {kind} report has no metrics", "/metrics")
        if kind == "matrix" and (not report_def.dimensions or len(report_def.columns) != 1):
            report.error("a matrix report needs group_by rows and exactly one column "
                         "dimension", "/columns")
        if kind == "list":
            if not report_def.columns:
                report.error("a list report needs its columns", "/columns")
            return
        if kind in ("summary", "matrix") and report_def.columns and kind == "summary":
            report.error("columns are for matrix and list reports", "/columns")
        if kind in ("funnel", "time_in_stage", "forecast"):
            self.pipeline(entity)
        if kind == "forecast":
            self.forecast_fields(entity)

    def pipeline(self, entity: EntityDef) -> None:
        states = [f for f in entity.fields if f.type == "state"]
        wanted = self.report_def.pipeline
        if wanted is None and not states:
            self.report.error(f"entity '{entity.name}' has no pipeline", "/entity")
        elif wanted is not None and all(f.option("pipeline") != wanted for f in states):
            self.report.error(f"'{wanted}' is not a pipeline of entity '{entity.name}'",
                              "/pipeline")

    def forecast_fields(self, entity: EntityDef) -> None:
        date_name = self.report_def.date_field or "close_date"
        date_def = entity.field(date_name)
        if date_def is None or date_def.type not in DATE_TYPES:
            self.report.error(f"'{date_name}' is not a date field of entity '{entity.name}'",
                              "/date_field")
        amount_name = self.report_def.amount_field or "amount"
        amount_def = entity.field(amount_name)
        if amount_def is None or amount_def.type not in NUMERIC_TYPES:
            self.report.error(f"'{amount_name}' is not a numeric field of entity "
                              f"'{entity.name}'", "/amount_field")

    def run(self) -> None:
        report_def = self.report_def
        entity = self.context.entity(report_def.entity, self.report, "/entity")
        if entity is None:
            return
        for index, dim in enumerate(report_def.dimensions):
            self.dimension(entity, dim, f"/group_by/{index}")
        for index, dim in enumerate(report_def.columns):
            if report_def.type == "list":
                self.field(entity, dim.path, f"/columns/{index}")
            else:
                self.dimension(entity, dim, f"/columns/{index}")
        if report_def.filter is not None:
            self.context.check_criteria(report_def.filter, entity, self.report, "/filter")
        self.where(entity, report_def.where, "/where")
        seen: dict[str, int] = {}
        names = {str(m["name"]) for m in report_def.metrics if m["op"] != "ratio"}
        for index, metric in enumerate(report_def.metrics):
            if metric["name"] in seen:
                self.report.error(f"two metrics are named '{metric['name']}'; give one a "
                                  "\"name\"", f"/metrics/{index}")
            seen.setdefault(str(metric["name"]), index)
            self.metric(entity, metric, names, f"/metrics/{index}")
        self.kind(entity)
        if report_def.snapshot is not None:
            problem = cron_problem(report_def.snapshot.schedule)
            if problem is not None:
                self.report.error(problem, "/snapshot/schedule")
        seen_names: set[str] = set()
        for index, subscription in enumerate(report_def.subscriptions):
            pointer = f"/subscriptions/{index}"
            if subscription.name in seen_names:
                self.report.error(f"two subscriptions are named '{subscription.name}'",
                                  f"{pointer}/name")
            seen_names.add(subscription.name)
            problem = cron_problem(subscription.schedule)
            if problem is not None:
                self.report.error(problem, f"{pointer}/schedule")
            self.context.check_roles(subscription.roles, self.report, f"{pointer}/roles")


def check_report(report_def: ReportDef, context: CompileContext) -> None:
    ReportChecker(report_def, context).run()
