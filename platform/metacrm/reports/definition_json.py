"""A compiled report as the API shows it (`GET /api/v1/reports/<name>`)."""

from __future__ import annotations

from typing import Any

from metacrm.metadata.model import DimensionDef, ReportDef


def _dimension(dim: DimensionDef) -> Any:
    if dim.bucket is None and not dim.label:
        return dim.path
    out: dict[str, Any] = {"field": dim.path}
    if dim.bucket is not None:
        out["bucket"] = dim.bucket
    if dim.label:
        out["label"] = dict(dim.label)
    return out


def summary_json(report: ReportDef) -> dict[str, Any]:
    """What a list of reports shows of each."""
    return {"name": report.name, "label": dict(report.label),
            "description": dict(report.description), "type": report.type,
            "entity": report.entity, "chart": report.chart, "pack": report.pack or None}


def report_json(report: ReportDef) -> dict[str, Any]:
    """The report document (compiled: defaults filled in)."""
    out = {**summary_json(report),
           "group_by": [_dimension(d) for d in report.dimensions],
           "metrics": [{k: (dict(v) if k in ("label", "where") else v)
                        for k, v in metric.items() if v not in (None, {}, ())}
                       for metric in report.metrics],
           "totals": report.totals}
    if report.columns:
        out["columns"] = [_dimension(d) for d in report.columns]
    optional = {"filter": report.filter, "pipeline": report.pipeline,
                "date_field": report.date_field, "amount_field": report.amount_field,
                "period": report.period}
    out.update({k: v for k, v in optional.items() if v is not None})
    if report.defaults:
        out["defaults"] = dict(report.defaults)
    if report.snapshot is not None:
        out["snapshot"] = {"schedule": report.snapshot.schedule,
                           "keep": report.snapshot.keep}
    if report.where:
        out["where"] = {k: list(v) for k, v in report.where.items()}
    return out
