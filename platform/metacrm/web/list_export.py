"""A list as a spreadsheet (CSV or XLSX): the list view's columns, as the list shows them.

By default a file is for people: headers are the columns' labels; references and regarding
links read as the linked record's title, users as their names, picklists and states as
their labels, booleans as Yes/No; money takes two columns (amount, currency). Numbers stay
plain numbers (`7000.00`, no grouping) and dates ISO dates, so a spreadsheet reads them as
numbers and dates — in XLSX they are typed cells.

With `raw=1` a file is for machines: the record id first, headers are field names, values
their JSON form (ids of referenced records and users, state and choice codes; a regarding
link `entity:id`), money as `<name>` and `<name>_currency` — what an import reads back.

Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading
apostrophe in CSV and is stored as a plain string cell in XLSX (`services.export.files`,
shared with the export API).

Only formatting lives here: which records and fields a subject may export is decided by
`services.export.records`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from metacrm.metadata.model import EntityDef
from metacrm.services.export.files import (
    UNTYPED,
    XLSX_MIMETYPE,
    Cell,
    ExportColumn,
    csv_lines,
    export_columns,
    raw_cell,
    typed_cell,
    write_xlsx,
)
from metacrm.services.export.records import ExportRows
from metacrm.web.i18n import t
from metacrm.web.list_columns import field_label
from metacrm.web.values import ValueDisplay

TIMESTAMPS = ("created_at", "updated_at")
__all__ = ["XLSX_MIMETYPE", "ExportTable", "csv_text", "xlsx_bytes"]


class ExportTable:
    """The header row and the value rows of an export, in display or raw form."""

    def __init__(self, entity: EntityDef, rows: ExportRows, columns: Sequence[str],
                 display: ValueDisplay, *, raw: bool) -> None:
        self.entity = entity
        self.rows = rows
        self.display = display
        self.raw = raw
        shown = set(rows.fields) | {"owner", "created_by", "updated_by", *TIMESTAMPS}
        names = [name for name in columns if name in shown] or list(rows.fields)
        self.columns = self._columns(["id", *names] if raw else names)

    def _columns(self, names: Sequence[str]) -> list[ExportColumn]:
        return export_columns(
            self.entity, names, raw=self.raw,
            header=lambda name: field_label(self.entity, name),
            currency_header=lambda title: t("%(field)s (currency)", field=title))

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def values(self) -> Iterator[list[Cell]]:
        if not self.raw:
            self.display.prefetch(self.entity, self.rows.records, [
                c.name for c in self.columns if (f := self.entity.field(c.name)) is not None
                and f.type in ("reference", "regarding")])
        for record in self.rows.records:
            yield [self._cell(column, record) for column in self.columns]

    def _cell(self, column: ExportColumn, record: Mapping[str, Any]) -> Cell:
        value = record.get(column.name)
        fdef = self.entity.field(column.name)
        cell = typed_cell(fdef.type if fdef is not None else column.name, column, value)
        if cell is not UNTYPED:
            return cell
        if self.raw:
            return raw_cell(value)
        return self.display.text(self.entity, column.name, record)


def csv_text(table: ExportTable) -> str:
    return "".join(csv_lines(table.headers, table.values()))


def xlsx_bytes(table: ExportTable) -> bytes:
    """The table as an XLSX workbook (openpyxl's write-only mode keeps memory flat for the
    10,000-row export limit)."""
    out = io.BytesIO()
    write_xlsx(out, table.entity.name, table.headers, table.values())
    return out.getvalue()
