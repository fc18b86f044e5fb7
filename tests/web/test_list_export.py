"""List exports: the view's columns under their labels with the values the list shows
(titles, user names, state labels, money as amount and currency), raw values on request,
and the same table as an XLSX workbook."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from screen_harness import Browser, entity, field, labels, open_screens

import metacrm.web.record_list  # noqa: F401
from web_harness import role

COMPANY = entity("company", field("name", required=True), title_field="name")
DEAL = entity(
    "deal",
    field("title", required=True),
    field("value", "money", currency="USD", currencies=["USD", "EUR"]),
    field("close_date", "date"),
    field("company", "reference", entity="company"),
    field("stage", "state", pipeline="deal_flow"),
    field("note"),
    title_field="title",
)
FLOW = {
    "kind": "pipeline", "name": "deal_flow", "version": 1, "label": labels("Deals"),
    "entity": "deal",
    "states": [{"name": "open", "label": labels("Open", "Открыта")},
               {"name": "won", "label": labels("Won"), "category": "won"}],
    "transitions": [],
}
LIST_VIEW = {
    "kind": "view", "name": "deal_list", "version": 1, "label": labels("All deals"),
    "entity": "deal", "type": "list",
    "columns": ["title", "company", "value", "stage", "close_date", "owner"],
}
SELLER = role("seller", entities={
    "deal": {"read": "all", "create": "all", "export": "all"},
    "company": {"read": "all", "create": "all"}})
DOCUMENTS = (COMPANY, DEAL, FLOW, LIST_VIEW, SELLER)
HEADERS = ["Title", "Company", "Value", "Value (currency)", "Stage", "Close Date", "Owner"]


def created(browser: Browser, entity_name: str, data: dict[str, str]) -> str:
    response = browser.post(f"/app/r/{entity_name}/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"]).rsplit("/", 1)[1]


@pytest.fixture
def seller(isolated_database_url: str, tmp_path: Path) -> Iterator[tuple[Browser, dict[str, Any]]]:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        sam = screens.user("sam", "seller")
        acme = created(sam, "company", {"name": "Acme"})
        deal = created(sam, "deal", {"title": "Big", "value.amount": "7000",
                                     "value.currency": "EUR", "close_date": "2030-05-31",
                                     "company": acme, "note": "not a column"})
        yield sam, {"acme": acme, "deal": deal}


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_has_the_view_columns_labels_and_display_values(
        seller: tuple[Browser, dict[str, Any]]) -> None:
    sam, _ids = seller

    response = sam.get("/app/r/deal/export.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert csv_rows(response.get_data(as_text=True)) == [
        HEADERS, ["Big", "Acme", "7000.00", "EUR", "Open", "2030-05-31", "sam"]]


def test_columns_chosen_in_the_list_are_the_exported_ones(
        seller: tuple[Browser, dict[str, Any]]) -> None:
    sam, _ids = seller

    response = sam.get("/app/r/deal/export.csv?custom=1&columns=stage,title")

    assert csv_rows(response.get_data(as_text=True)) == [["Stage", "Title"], ["Open", "Big"]]


def test_raw_values_on_request(seller: tuple[Browser, dict[str, Any]]) -> None:
    sam, ids = seller

    rows = csv_rows(sam.get("/app/r/deal/export.csv?raw=1").get_data(as_text=True))

    assert rows[0] == ["id", "title", "company", "value", "value_currency", "stage",
                       "close_date", "owner"]
    assert rows[1][:7] == [ids["deal"], "Big", ids["acme"], "7000.00", "EUR", "open",
                           "2030-05-31"]
    assert rows[1][7] != "sam" and rows[1][7]  # the owner's id


def test_xlsx_holds_the_same_table_with_typed_cells(
        seller: tuple[Browser, dict[str, Any]]) -> None:
    sam, _ids = seller

    response = sam.get("/app/r/deal/export.xlsx")
    bulk = sam.post("/app/r/deal/bulk", {"action": "export_xlsx", "state": ""})

    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert bulk.status_code == 200 and bulk.data[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    header, row = list(sheet.iter_rows(values_only=True))
    assert list(header) == HEADERS
    assert row[0] == "Big" and row[1] == "Acme" and row[3] == "EUR" and row[6] == "sam"
    assert Decimal(str(row[2])) == Decimal("7000")  # a number, not text
    assert row[5].date() == date(2030, 5, 31)  # a date cell


def test_a_formula_stays_text_in_xlsx(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        sam = screens.user("sam", "seller")
        created(sam, "deal", {"title": "=HYPERLINK(\"http://evil\")"})

        sheet = load_workbook(io.BytesIO(sam.get("/app/r/deal/export.xlsx").data)).active

        cell = sheet.cell(row=2, column=1)
        assert cell.value == "=HYPERLINK(\"http://evil\")" and cell.data_type == "s"
