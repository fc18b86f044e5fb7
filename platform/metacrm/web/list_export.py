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
apostrophe in CSV and is stored as a plain string cell in XLSX.

Only formatting lives here: which records and fields a subject may export is decided by
`services.record_export`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from metacrm.metadata.model import EntityDef
from metacrm.services.record_export import ExportRows
from metacrm.web.i18n import t
from metacrm.web.list_columns import field_label
from metacrm.web.values import ValueDisplay

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_TYPES = frozenset({"integer", "decimal", "percent"})
DATE_TYPES = frozenset({"date", "datetime", "created_at", "updated_at"})
TIMESTAMPS = ("created_at", "updated_at")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Cell = str | int | Decimal | date | datetime | None
"""A value as the file holds it: text, a number or a date (empty: None)."""


@dataclass(frozen=True)
class ExportColumn:
    """One column of the file: its header and how a record fills it."""

    header: str
    name: str
    part: str = ""
    """`amount` / `currency` for the two columns of a money field."""


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
        found = []
        for name in names:
            fdef = self.entity.field(name)
            title = name if self.raw else field_label(self.entity, name)
            if fdef is not None and fdef.type == "money":
                found.append(ExportColumn(title, name, "amount"))
                found.append(ExportColumn(
                    f"{name}_currency" if self.raw else t("%(field)s (currency)", field=title),
                    name, "currency"))
            else:
                found.append(ExportColumn(title, name))
        return found

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
        if value is None:
            return None
        fdef = self.entity.field(column.name)
        kind = fdef.type if fdef is not None else column.name
        if column.part:
            if not isinstance(value, Mapping):
                return None
            if column.part == "amount":
                return _number(value.get("amount"))
            return str(value.get("currency") or "")
        if kind in NUMBER_TYPES:
            return _number(value)
        if kind in DATE_TYPES:
            return _date(kind, value)
        if self.raw:
            return _raw(value)
        return self.display.text(self.entity, column.name, record)


def _number(value: Any) -> Decimal | int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _date(kind: str, value: Any) -> date | datetime | None:
    text = str(value)
    try:
        if kind == "date":
            return date.fromisoformat(text[:10])
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _raw(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    if isinstance(value, Mapping) and set(value) == {"entity", "id"}:
        return f"{value['entity']}:{value['id']}"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date | int | Decimal):
        return str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_text(table: ExportTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.values():
        writer.writerow([_csv_cell(value) for value in row])
    return out.getvalue()


def xlsx_bytes(table: ExportTable) -> bytes:
    """The table as an XLSX workbook, written row by row (openpyxl's write-only mode keeps
    memory flat for the 10,000-row export limit)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.entity.name[:31])

    def cell(value: Cell) -> Any:
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None)  # UTC; Excel has no time zones
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"  # never a formula, whatever the text starts with
        if isinstance(value, datetime):
            written.number_format = "yyyy-mm-dd hh:mm:ss"
        elif isinstance(value, date):
            written.number_format = "yyyy-mm-dd"
        return written

    sheet.append([cell(header) for header in table.headers])
    for row in table.values():
        sheet.append([cell(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
