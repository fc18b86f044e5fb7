"""The export API's rows: the records a subject may read AND export, in the list's filter,
sort and fields, as spreadsheet cells — display values (English labels, linked records'
titles; the API has no user language) or, with `raw`, the JSON values an import reads back.

Everything that can be refused is checked when the export is planned (before a byte is
sent): the read and export grants, the sort and the fields. The rows are then read by
keyset, a page of `PAGE_SIZE` at a time, in their own connection, while the file is being
written — memory holds one page whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, Forbidden, NotFound, ValidationFailed
from metacrm.metadata.model import EntityDef, FieldDef
from metacrm.services.export.files import (
    UNTYPED,
    Cell,
    ExportColumn,
    export_columns,
    raw_cell,
    typed_cell,
)
from metacrm.services.export.records import exportable_entity
from metacrm.services.records.service import RecordsService
from metacrm.services.records.titles import PlainTitles

PAGE_SIZE = 500
SYSTEM_COLUMNS = ("id", "owner", "created_at", "updated_at", "created_by", "updated_by")
LINKS = frozenset({"reference", "regarding"})


@dataclass(frozen=True)
class RecordExport:
    """A planned export: its headers and the rows, read lazily."""

    entity: EntityDef
    columns: tuple[ExportColumn, ...]
    rows: Iterator[list[Cell]]

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]


def _label(labels: Mapping[str, str] | None, fallback: str) -> str:
    return (labels or {}).get("en") or next(iter((labels or {}).values()), "") or fallback


def plan_export(
    records: RecordsService, subject: AccessSubject, entity: str, *, criteria: Any = None,
    q: str | None = None, sort: Sequence[str] = (), fields: Sequence[str] | None = None,
    raw: bool = False,
) -> RecordExport:
    """The export of `entity` as `subject` may take it: Forbidden (403) without read and
    export grants, ValidationFailed for a sort or field the subject cannot see."""
    visible = exportable_entity(records, subject, entity, sort)
    names = list(fields) if fields else list(visible.field_names)
    unknown = [ErrorDetail(f"{name!r} is not a field", f"/fields/{index}")
               for index, name in enumerate(names)
               if visible.field(name) is None and name not in SYSTEM_COLUMNS]
    if unknown:
        raise ValidationFailed("invalid fields", unknown)
    if raw and "id" not in names:
        names.insert(0, "id")
    columns = tuple(_columns(visible, names, raw))
    return RecordExport(visible, columns, _rows(records, subject, visible, columns, raw,
                                                criteria, q, tuple(sort)))


def _columns(entity: EntityDef, names: Sequence[str], raw: bool) -> list[ExportColumn]:
    def header(name: str) -> str:
        fdef = entity.field(name)
        return name if fdef is None else _label(fdef.label, name)

    return export_columns(entity, names, raw=raw, header=header,
                          currency_header=lambda title: f"{title} (currency)")


def _rows(
    records: RecordsService, subject: AccessSubject, entity: EntityDef,
    columns: Sequence[ExportColumn], raw: bool, criteria: Any, q: str | None,
    sort: Sequence[str],
) -> Iterator[list[Cell]]:
    runtime = records.runtime()
    scoped = runtime.scoped(subject)
    cells = _Cells(records, subject, entity, raw)
    cursor: str | None = None
    with records.engine.connect() as conn:
        while True:
            page = scoped.export_page(conn, entity.name, criteria=criteria, q=q, sort=sort,
                                      limit=PAGE_SIZE, cursor=cursor)
            rows = [runtime.json.record(entity.name, scoped.visible(entity.name, record))
                    for record in page.records]
            titles = {} if raw else cells.link_titles(columns, rows)
            for row in rows:
                yield [cells.cell(column, row, titles) for column in columns]
            cursor = page.next_cursor
            if cursor is None:
                return


class _Cells:
    """One record's cells, display or raw."""

    def __init__(self, records: RecordsService, subject: AccessSubject, entity: EntityDef,
                 raw: bool) -> None:
        self.records = records
        self.subject = subject
        self.entity = entity
        self.raw = raw
        self.model = records.runtime().model

    def cell(self, column: ExportColumn, record: Mapping[str, Any],
             titles: Mapping[tuple[str, str], str]) -> Cell:
        value = record.get(column.name)
        fdef = self.entity.field(column.name)
        cell = typed_cell(fdef.type if fdef is not None else column.name, column, value)
        if cell is not UNTYPED:
            return cell
        if self.raw or fdef is None:
            return raw_cell(value)
        return self._display(fdef, value, titles)

    def _display(self, fdef: FieldDef, value: Any,
                 titles: Mapping[tuple[str, str], str]) -> str:
        if fdef.type in ("picklist", "multi_picklist"):
            labels = {c.value: _label(c.label, c.value) for c in fdef.choices}
            values = value if isinstance(value, list) else [value]
            return ", ".join(labels.get(str(item), str(item)) for item in values)
        if fdef.type == "state":
            pipeline = self.model.pipelines.get(str(fdef.option("pipeline")))
            state = pipeline.state(str(value)) if pipeline is not None else None
            return _label(state.label, str(value)) if state is not None else str(value)
        if fdef.type == "reference" and fdef.target_entity:
            return titles.get((fdef.target_entity, str(value)), "")
        if fdef.type == "regarding" and isinstance(value, Mapping):
            return titles.get((str(value.get("entity")), str(value.get("id"))), "")
        if isinstance(value, bool):
            return "Yes" if value else "No"
        return raw_cell(value)

    def link_titles(self, columns: Sequence[ExportColumn], rows: Sequence[Mapping[str, Any]]
                    ) -> dict[tuple[str, str], str]:
        """Titles of the records the page's reference and regarding cells name, as the
        subject may read them (an unreadable one stays empty): one query per entity."""
        wanted: dict[str, set[str]] = {}
        for column in columns:
            fdef = self.entity.field(column.name)
            if fdef is None or fdef.type not in LINKS:
                continue
            for row in rows:
                value = row.get(column.name)
                if fdef.type == "reference" and value is not None and fdef.target_entity:
                    wanted.setdefault(fdef.target_entity, set()).add(str(value))
                elif isinstance(value, Mapping):
                    wanted.setdefault(str(value.get("entity")), set()).add(str(value.get("id")))
        found: dict[tuple[str, str], str] = {}
        titles = PlainTitles(self.records, self.subject)
        for target, ids in wanted.items():
            try:
                visible = self.records.visible_entity(self.subject, target)
                page = self.records.list(self.subject, target, limit=len(ids),
                                         criteria={"field": "id", "op": "in",
                                                   "value": sorted(ids)})
            except (Forbidden, NotFound):
                continue
            for record, title in zip(page.records, titles.titles(visible, page.records),
                                     strict=True):
                found[(target, str(record["id"]))] = title
        return found
