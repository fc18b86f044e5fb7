"""Reading import files: encodings, delimiters, BOMs, XLSX cells, broken headers."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from metacrm.imports.readers import open_table
from metacrm.kernel.errors import ValidationFailed

ROWS = [["Имя", "Город", "Сумма"], ["Пётр", "Москва", "1 000,50"], ["Анна", "Тверь", "7"]]


def csv_text(delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(ROWS)
    return out.getvalue()


@pytest.mark.parametrize(("encoding", "prefix"), [
    ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1251", b""), ("utf-16", b""),
])
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_in_any_encoding_and_delimiter_reads_the_same(
        encoding: str, prefix: bytes, delimiter: str) -> None:
    reader = open_table(prefix + csv_text(delimiter).encode(encoding), "file.csv")

    assert reader.info.columns == ("Имя", "Город", "Сумма")
    assert reader.info.delimiter == delimiter
    rows = list(reader.rows())
    assert [row.cells for row in rows] == [dict(zip(ROWS[0], row, strict=True))
                                           for row in ROWS[1:]]
    assert [row.number for row in rows] == [2, 3]


def test_quoted_cells_keep_delimiters_and_line_breaks_and_blank_rows_are_skipped() -> None:
    content = b'a,b\n"x, y","line one\nline two"\n,\n3,\n'
    rows = list(open_table(content, "f.csv").rows())

    assert [row.cells for row in rows] == [{"a": "x, y", "b": "line one\nline two"},
                                           {"a": "3", "b": ""}]
    assert rows[1].number == 4  # records, as a spreadsheet numbers rows


def test_xlsx_cells_come_out_as_text() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["name", "count", "price", "day", "at", "flag"])
    sheet.append(["Widget", 3.0, 2.5, date(2024, 5, 1), datetime(2024, 5, 1, 13, 30), True])
    sheet.append([None, None, None, None, None, None])
    out = io.BytesIO()
    book.save(out)
    reader = open_table(out.getvalue(), "data.xlsx")

    assert reader.info.format == "xlsx"
    assert [row.cells for row in reader.rows()] == [{
        "name": "Widget", "count": "3", "price": "2.5", "day": "2024-05-01",
        "at": "2024-05-01T13:30:00", "flag": "true"}]


@pytest.mark.parametrize(("content", "message"), [
    (b"a,,b\n1,2,3\n", "column 2 has no name"),
    (b"a,A\n1,2\n", "appears twice"),
    (b"", "no header row"),
])
def test_a_header_that_cannot_name_columns_is_refused(content: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        open_table(content, "f.csv")
    assert message in str(caught.value)


def test_a_damaged_workbook_is_refused_clearly() -> None:
    with pytest.raises(ValidationFailed, match="not a readable XLSX file"):
        open_table(b"PK\x03\x04 not really a zip", "x.xlsx")
