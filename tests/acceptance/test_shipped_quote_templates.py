"""The Sales pack's shipped quote templates (`quote_ru`, `quote_en`) on a real quote.

A rep prices a quote from a price list and generates its PDF through the API; read back
with pypdf, the PDF shows each line (product name, quantity, price, amounts), the totals,
the total in words in the template's language, the validity date and page numbers.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from test_quotes_and_invoices import Shop, apply_shipped_packs, call

from web_harness import open_web


@pytest.fixture
def shop(isolated_database_url: str, tmp_path: Path) -> Iterator[Shop]:
    apply_shipped_packs(isolated_database_url)
    with open_web(isolated_database_url, tmp_path, roles=()) as web:
        yield Shop(web)


@pytest.fixture
def quote(shop: Shop) -> dict[str, Any]:
    things = shop.catalogue()
    rita, rep = shop.rep()
    customer = shop.create("company", name="Rita's customer", owner=rita)
    deal = call(shop, "POST", "/records/deal", rep, 201, {
        "title": "Office kit", "company": customer["id"],
        "price_list": things["prices"]["id"]})["data"]
    quote = call(shop, "POST", "/records/quote", rep, 201, {
        "deal": deal["id"], "price_list": things["prices"]["id"], "title": "Office kit",
        "valid_until": "2030-01-31"})["data"]
    for product, quantity, discount in (("laptop", "2", None), ("mouse", "4", "10")):
        values = {"quote": quote["id"], "product": things[product]["id"],
                  "quantity": quantity}
        if discount:
            values["discount"] = discount
        call(shop, "POST", "/records/quote_line", rep, 201, values)
    return {"id": quote["id"], "rep": rep}


def pdf_text(shop: Shop, quote: dict[str, Any], template: str) -> tuple[dict[str, Any], str]:
    base = f"/records/quote/{quote['id']}"
    call(shop, "POST", f"{base}/documents", quote["rep"], 202, {"template": template})
    attachments = call(shop, "GET", f"{base}/attachments", quote["rep"], 200)["data"]
    attachment = next(a for a in attachments if a.get("template") == template)
    content = shop.web.client.get(f"/api/v1{base}/attachments/{attachment['id']}/content",
                                  headers=quote["rep"])
    assert content.status_code == 200
    reader = PdfReader(io.BytesIO(content.data))
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    text = "\n".join(page.extract_text() for page in reader.pages)
    return attachment, " ".join(text.split())


def test_the_shipped_quote_templates_show_lines_totals_and_the_total_in_words(
        shop: Shop, quote: dict[str, Any]) -> None:
    attachment, text = pdf_text(shop, quote, "quote_ru")
    assert attachment["name"] == "КП Q-000001.pdf"
    for expected in ("Коммерческое предложение № Q-000001", "Office kit", "Laptop", "Mouse",
                     "1 000,00 $", "2 000,00 $", "400,00 $", "2 400,00 $", "10 %",
                     "Сумма без налога: 2 090,00 $", "Налог: 409,00 $",
                     "Итого: 2 499,00 $",
                     "Две тысячи четыреста девяносто девять долларов, ноль центов",
                     "31 января 2030 г.", "Страница 1 из 1"):
        assert expected in text, (expected, text)

    # the English one formats for English
    attachment, text = pdf_text(shop, quote, "quote_en")
    assert attachment["name"] == "Quote Q-000001.pdf"
    for expected in ("Quote № Q-000001", "Laptop", "Mouse", "$1,000.00", "$2,400.00",
                     "Subtotal: $2,090.00", "Tax: $409.00", "Total: $2,499.00",
                     "Two thousand, four hundred and ninety-nine dollars",
                     "January 31, 2030", "Page 1 of 1"):
        assert expected in text, (expected, text)
