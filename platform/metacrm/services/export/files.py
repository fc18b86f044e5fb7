"""Spreadsheet files of records: CSV and XLSX writers, and the cell conversions they share.

Used by the screens' list export (`web.list_export`, which adds labels in the user's
language) and the export API (`services.export.rows`). Both writers take rows as an
iterator and never hold more than one row: CSV is produced line by line (streamed to the
client as it is read from the database), XLSX through openpyxl's write-only mode, which
writes rows to a temporary file as they come (an XLSX is a zip: it cannot be sent before
its last row is written, but it is never held in memory).

Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
leading apostrophe in CSV and is stored as a plain string cell in XLSX; control characters
(which XLSX cannot hold) are dropped from XLSX cells.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import IO, Any

from metacrm.metadata.model import EntityDef

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_TYPES = frozenset({"integer", "decimal", "percent"})
DATE_TYPES = frozenset({"date", "datetime", "created_at", "updated_at"})
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"

Cell = str | int | Decimal | date | datetime | None
"""A value as the file holds it: text, a number or a date (empty: None)."""



@dataclass(frozen=True, slots=True)
class ExportColumn:
    """One column of an export file: its header and the field (or money part) filling it."""

    header: str
    name: str
    part: str = ""
    """`amount` / `currency` for the two columns of a money field."""


def export_columns(entity: EntityDef, names: Sequence[str], *, raw: bool,
                   header: Callable[[str], str],
                   currency_header: Callable[[str], str]) -> list[ExportColumn]:
    """The file's columns of fields `names`: a money field takes two (amount, then
    currency: `<name>_currency` in a raw file, else `currency_header(<its header>)`).
    Headers are field names in a raw file, else `header(<name>)`."""
    found: list[ExportColumn] = []
    for name in names:
        fdef = entity.field(name)
        title = name if raw else header(name)
        if fdef is not None and fdef.type == "money":
            found.append(ExportColumn(title, name, "amount"))
            found.append(ExportColumn(f"{name}_currency" if raw else currency_header(title),
                                      name, "currency"))
        else:
            found.append(ExportColumn(title, name))
    return found


class _Untyped(Enum):
    UNTYPED = "untyped"


UNTYPED = _Untyped.UNTYPED
"""What `typed_cell` answers for a value whose cell only the caller can write (text)."""


def typed_cell(kind: str, column: ExportColumn, value: Any) -> Cell | _Untyped:
    """The cell of a value whose file form follows from its type alone — nothing, a money
    part, a number, a date — or `UNTYPED` when the caller writes it (display or raw text).

    Shared by the API export and the screens' list export, so both files agree cell for
    cell; `kind` is the field's type (or the system column's name).
    """
    if value is None:
        return None
    if column.part:
        if not isinstance(value, Mapping):
            return None
        if column.part == "amount":
            return number_cell(value.get("amount"))
        return str(value.get("currency") or "")
    if kind in NUMBER_TYPES:
        return number_cell(value)
    if kind in DATE_TYPES:
        return date_cell(kind, value)
    return UNTYPED

def number_cell(value: Any) -> Decimal | int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def date_cell(kind: str, value: Any) -> date | datetime | None:
    text = str(value)
    try:
        if kind == "date":
            return date.fromisoformat(text[:10])
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def raw_cell(value: Any) -> str:
    """A JSON value as the raw export writes it (what an import reads back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    if isinstance(value, Mapping) and set(value) == {"entity", "id"}:
        return f"{value['entity']}:{value['id']}"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date | int | Decimal):
        return str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_lines(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The CSV file, one line at a time (header first)."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(cells: Sequence[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()

    yield line(list(headers))
    for row in rows:
        yield line([csv_cell(value) for value in row])


def write_xlsx(target: IO[bytes], sheet_name: str, headers: Sequence[str],
               rows: Iterable[Sequence[Cell]]) -> None:
    """The rows as an XLSX workbook written to `target`, row by row (write-only mode)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31])

    def cell(value: Cell) -> Any:
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None)  # UTC; Excel has no time zones
        elif isinstance(value, str):
            # control characters cannot be stored in a worksheet: dropped, not refused
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"  # never a formula, whatever the text starts with
        if isinstance(value, datetime):
            written.number_format = "yyyy-mm-dd hh:mm:ss"
        elif isinstance(value, date):
            written.number_format = "yyyy-mm-dd"
        return written

    sheet.append([cell(header) for header in headers])
    for row in rows:
        sheet.append([cell(value) for value in row])
    book.save(target)
