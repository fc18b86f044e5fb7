"""A report result as a CSV or XLSX file, streamed: the whole result, never a page.

Columns as the API names them (matrix cells `<column value> / <metric>`; money values two
columns, amount and `<name>_currency`). Metric values are numbers; text a spreadsheet would
run as a formula gets a leading apostrophe in CSV and is a plain string cell in XLSX.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from metacrm.reports.result import ReportResult

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_BATCH = 500
"""Rows per streamed CSV chunk."""
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FileColumn:
    """One column of the file: its header and how a result row fills it."""

    def __init__(self, header: str, name: str, *, part: str = "", cell: str = "",
                 numeric: bool = False) -> None:
        self.header, self.name, self.part, self.cell = header, name, part, cell
        self.numeric = numeric

    def value(self, row: Mapping[str, Any]) -> Any:
        value = row.get(self.name)
        if self.cell:
            value = (row.get("cells") or {}).get(self.cell, {}).get(self.part)
        elif self.part:
            value = value.get(self.part) if isinstance(value, Mapping) else None
        if value is None:
            return None
        if self.numeric or self.part == "amount":
            try:
                return Decimal(str(value))
            except InvalidOperation:
                return str(value)
        return value if isinstance(value, int | bool) else str(value)


def file_columns(result: ReportResult) -> list[FileColumn]:
    out: list[FileColumn] = []
    metrics = [c for c in result.columns if c.role == "metric"]
    for column in result.columns:
        if column.type == "money":
            out.append(FileColumn(column.name, column.name, part="amount"))
            out.append(FileColumn(f"{column.name}_currency", column.name, part="currency"))
        elif result.column_values is None or column.role != "metric":
            out.append(FileColumn(column.name, column.name, numeric=column.role == "metric"))
    for value in result.column_values or ():
        out.extend(FileColumn(f"{value} / {metric.name}", "cells", part=metric.name,
                              cell=str(value), numeric=True) for metric in metrics)
    return out


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(result: ReportResult) -> Iterator[str]:
    """The result as CSV text, a few hundred rows at a time."""
    columns = file_columns(result)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.header for c in columns])
    for index, row in enumerate(result.rows, 1):
        writer.writerow([_csv_cell(c.value(row)) for c in columns])
        if index % CSV_BATCH == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def xlsx_chunks(result: ReportResult, sheet_name: str) -> Iterator[bytes]:
    """The result as an XLSX workbook (openpyxl write-only: rows go to a temporary file,
    which is then streamed), so memory stays flat for any number of rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    columns = file_columns(result)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31] or "report")
    sheet.append([c.header for c in columns])
    for row in result.rows:
        cells = []
        for column in columns:
            written = WriteOnlyCell(sheet, value=column.value(row))
            if isinstance(written.value, str):
                written.data_type = "s"
            cells.append(written)
        sheet.append(cells)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        book.save(path)
        with open(path, "rb") as stream:
            while chunk := stream.read(64 * 1024):
                yield chunk
    finally:
        os.unlink(path)
