"""Read an import file as a header and a stream of rows, whatever its format.

CSV: the encoding is detected (a BOM first — UTF-8, UTF-16 —, then strict UTF-8, then
charset-normalizer's guess among the single-byte code pages, cp1251 included) and the
delimiter sniffed from the first lines (`,`, `;`, tab, `|`). XLSX: the first worksheet,
read with openpyxl's read-only mode, so neither format holds the file in memory. Values
come out as text (XLSX numbers and dates in their canonical text form), blank cells as "".
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any

from metacrm.kernel.errors import ErrorDetail, ValidationFailed

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row: its number in the file (the header is row 1) and its cells by column."""

    number: int
    cells: dict[str, str]


@dataclass(frozen=True)
class TableInfo:
    """What was detected about a file."""

    format: str
    columns: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None


def file_format(file_name: str, head: bytes) -> str:
    """`xlsx` for a ZIP container named or looking like a workbook, else `csv`."""
    if file_name.lower().endswith((".xlsx", ".xlsm")) or head.startswith(XLSX_MAGIC):
        return "xlsx"
    return "csv"


def detect_encoding(sample: bytes) -> str:
    """The text encoding of a file from its first bytes."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=["cp1251", "cp1252", "koi8_r", "cp866",
                                            "iso8859_5", "latin_1"]).best()
    return best.encoding if best is not None else "cp1251"


def sniff_delimiter(text: str) -> str:
    """The delimiter of CSV text (`,` when the sniffer cannot tell)."""
    try:
        return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: text.split("\n", 1)[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] else ","


def _header(raw: list[Any]) -> tuple[str, ...]:
    columns = tuple(str(value).strip() if value is not None else "" for value in raw)
    problems = []
    seen: set[str] = set()
    for index, name in enumerate(columns):
        if not name:
            problems.append(ErrorDetail(f"column {index + 1} has no name", "/file"))
        elif name.casefold() in seen:
            problems.append(ErrorDetail(f"column {name!r} appears twice", "/file"))
        seen.add(name.casefold())
    if not columns:
        problems.append(ErrorDetail("the file has no header row", "/file"))
    if problems:
        raise ValidationFailed("the file's header cannot be read", problems)
    return columns


class TableReader:
    """A file opened for reading: `info` (format, columns...) and `rows()`, read once."""

    def __init__(self, stream: IO[bytes], file_name: str) -> None:
        head = stream.read(SAMPLE_BYTES)
        stream.seek(0)
        self._stream = stream
        fmt = file_format(file_name, head)
        if fmt == "xlsx":
            self._rows, columns = self._open_xlsx()
            self.info = TableInfo("xlsx", columns)
        else:
            encoding = detect_encoding(head)
            text = io.TextIOWrapper(stream, encoding=encoding, newline="")
            try:
                sample = text.read(SAMPLE_BYTES // 2)
            except UnicodeDecodeError as exc:
                raise ValidationFailed("the file cannot be read", [
                    ErrorDetail(f"not text in {encoding}: {exc.reason}", "/file")]) from exc
            text.seek(0)
            delimiter = sniff_delimiter(sample)
            reader = csv.reader(text, delimiter=delimiter)
            try:
                first = next(reader, [])
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ValidationFailed("the file cannot be read",
                                       [ErrorDetail(str(exc), "/file")]) from exc
            columns = _header(first)
            self._rows = reader
            self.info = TableInfo("csv", columns, encoding, delimiter)

    def _open_xlsx(self) -> tuple[Iterator[list[Any]], tuple[str, ...]]:
        from openpyxl import load_workbook

        try:
            book = load_workbook(self._stream, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise ValidationFailed("the workbook cannot be read",
                                   [ErrorDetail(f"not a readable XLSX file: {exc}",
                                                "/file")]) from exc
        sheet = book.worksheets[0]
        self._max_row = sheet.max_row
        rows = (list(row) for row in sheet.iter_rows(values_only=True))
        return rows, _header(next(rows, []))

    def dimension_rows(self) -> int | None:
        """Data rows a workbook declares (its dimension), None when unknown."""
        max_row = getattr(self, "_max_row", None)
        return max_row - 1 if isinstance(max_row, int) and max_row > 0 else None

    def rows(self) -> Iterator[SourceRow]:
        """The data rows in file order; wholly blank rows are skipped (numbers still
        count them, so a row's number is its line in a spreadsheet)."""
        columns = self.info.columns
        number = 1
        try:
            for raw in self._rows:
                number += 1
                cells = [_text(value) for value in raw]
                if not any(cells):
                    continue
                if len(cells) < len(columns):
                    cells.extend([""] * (len(columns) - len(cells)))
                yield SourceRow(number, dict(zip(columns, cells, strict=False)))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed("the file cannot be read", [
                ErrorDetail(f"row {number}: {exc}", "/file")]) from exc


def _text(value: Any) -> str:
    """A cell as text: XLSX numbers without a spurious `.0`, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(Decimal(repr(value)))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def open_table(data: bytes, file_name: str) -> TableReader:
    """A reader over file content already in memory (uploads, stored imports)."""
    return TableReader(io.BytesIO(data), file_name)
