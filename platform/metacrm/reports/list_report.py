"""List reports: the records (read AND export scope) with the report's columns, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import FieldDef, ReportDef
from metacrm.reports.result import ReportResult, ResultColumn, json_value


def _and(*trees: Any) -> Any:
    kept = [tree for tree in trees if tree is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else {"and": kept}


def _cell(registry: FieldTypeRegistry, fdef: FieldDef, values: list[Any]) -> Any:
    if fdef.name in SYSTEM_FIELDS and SYSTEM_FIELDS[fdef.name] is fdef:
        return json_value(values[0])
    field_type = registry.get(fdef.type)
    names = [spec.name for spec in field_type.columns(fdef)]
    stored = dict(zip(names, values, strict=False))
    value = field_type.from_storage(fdef, stored)
    return None if value is None else field_type.to_json(fdef, value)


def list_rows(conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
              run_criteria: Any) -> ReportResult:
    """The list report's result; `rows` is a one-pass iterator over the open connection."""
    paths = [(dim.path, f"/columns/{i}") for i, dim in enumerate(report.columns)]
    fields, raw = scoped.list_rows(conn, report.entity, paths,
                                   criteria=_and(report.filter, run_criteria),
                                   where=report.where)
    registry = scoped.registry
    widths = [2 if f.type == "money" else 1 for f in fields]
    names = [dim.path.replace(".", "_") for dim in report.columns]

    def rows() -> Iterator[dict[str, Any]]:
        for row in raw:
            out: dict[str, Any] = {"id": row[0]}
            index = 1
            for name, fdef, width in zip(names, fields, widths, strict=True):
                out[name] = _cell(registry, fdef, list(row[index:index + width]))
                index += width
            yield out

    columns = [ResultColumn("id", {"en": "ID", "ru": "ID"}, "field", "id")]
    columns.extend(ResultColumn(name, dim.label or fdef.label, "field", fdef.type)
                   for name, dim, fdef in zip(names, report.columns, fields, strict=True))
    return ReportResult(columns, rows())
