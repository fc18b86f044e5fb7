"""Compile report documents: grouping, metrics (with the types they need), filter."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from metacrm.metadata.compiler.context import CompileContext
from metacrm.metadata.compiler.freeze import labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import ReportDef, SourceRef

NUMERIC_TYPES = frozenset({"integer", "decimal", "percent", "money"})
"""Types `sum` and `avg` add up; `min` and `max` need a type with ordered comparisons."""
ORDERED_OPERATOR = "gt"


def metric_name(raw: Any) -> str:
    """A metric's result column: its `name`, else `<op>_<field>`, else `count`."""
    if raw.get("name"):
        return str(raw["name"])
    return f"{raw['op']}_{raw['field']}" if raw.get("field") else str(raw["op"])


def build_report(document: Document) -> ReportDef:
    body = document.body
    metrics = tuple(
        MappingProxyType({
            "op": str(raw["op"]),
            "field": raw.get("field"),
            "name": metric_name(raw),
            "label": labels(raw.get("label")),
        })
        for raw in body["metrics"]
    )
    return ReportDef(
        name=document.name,
        label=labels(body.get("label")),
        entity=str(body["entity"]),
        group_by=names(body.get("group_by")),
        metrics=metrics,
        filter=body.get("filter"),
        chart=body.get("chart"),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def check_report(report_def: ReportDef, context: CompileContext) -> None:
    report = context.reporter(report_def.source.file)
    entity = context.entity(report_def.entity, report, "/entity")
    if entity is None:
        return
    for index, name in enumerate(report_def.group_by):
        context.check_field(entity, name, report, f"/group_by/{index}", system=True)
    if report_def.filter is not None:
        context.check_criteria(report_def.filter, entity, report, "/filter")
    seen: dict[str, int] = {}
    for index, metric in enumerate(report_def.metrics):
        pointer = f"/metrics/{index}"
        if metric["name"] in seen:
            report.error(f"two metrics are named '{metric['name']}'; give one a \"name\"",
                         pointer)
        seen.setdefault(metric["name"], index)
        field_name = metric["field"]
        if field_name is None or not context.check_field(
            entity, field_name, report, f"{pointer}/field", system=True
        ):
            continue
        fdef = entity.field(field_name)
        op = metric["op"]
        type_name = fdef.type if fdef is not None else "system column"
        if op in ("sum", "avg") and type_name not in NUMERIC_TYPES:
            report.error(f"'{op}' needs a numeric field; '{field_name}' is a {type_name}",
                         f"{pointer}/field")
        if fdef is None:
            continue
        if op in ("min", "max") and ORDERED_OPERATOR not in fdef.operators:
            report.error(f"'{op}' needs a field with an order; '{field_name}' is a "
                         f"{fdef.type}", f"{pointer}/field")
