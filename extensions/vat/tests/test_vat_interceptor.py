"""The VAT interceptor, against the extension API's fakes."""

from __future__ import annotations

from typing import Any

import metacrm_vat
import pytest

from metacrm.extension import Refused
from metacrm.extension.testing import FakeContext

DECLARED = ("rates", "default_rate")


def _context(**settings: Any) -> FakeContext:
    context = FakeContext("vat", DECLARED, settings)
    metacrm_vat.install(context)
    context.closed = True
    return context


def _line(context: FakeContext, country: str | None, **values: Any) -> dict[str, Any]:
    company = context.records.add("company", name="ACME", country=country)
    deal = context.records.add("deal", title="Big", company=company["id"])
    return {"deal": deal["id"], "quantity": "2",
            "unit_price": {"amount": "50.00", "currency": "EUR"}, **values}


def test_rate_of_the_companys_country_fills_tax_and_gross() -> None:
    context = _context(rates={"DE": 19, "FR": 20}, default_rate=0)
    saved = context.save("deal_line", _line(context, "de", discount="10"))
    assert saved["tax_rate"] == "19"
    assert saved["tax_amount"] == {"amount": "17.10", "currency": "EUR"}
    assert saved["gross_amount"] == {"amount": "107.10", "currency": "EUR"}


def test_default_rate_when_the_country_has_none() -> None:
    context = _context(rates={"DE": 19}, default_rate=5.5)
    saved = context.save("deal_line", _line(context, "US"))
    assert saved["tax_rate"] == "5.5"
    assert saved["tax_amount"] == {"amount": "5.50", "currency": "EUR"}


def test_no_rate_and_no_default_refuses_at_the_deal() -> None:
    context = _context(rates={"DE": 19})
    with pytest.raises(Refused) as caught:
        context.save("deal_line", _line(context, "US"))
    assert [e.pointer for e in caught.value.errors] == ["/deal"]
    assert "'US'" in str(caught.value)


def test_a_line_without_price_is_left_alone() -> None:
    context = _context(default_rate=20)
    line = _line(context, "DE")
    del line["unit_price"]
    assert "tax_amount" not in context.save("deal_line", line)


def test_only_declared_settings_are_read() -> None:
    context = FakeContext("vat", DECLARED, {"rates": {"DE": 19}, "secret": "x"})
    metacrm_vat.install(context)
    assert list(context.interceptors) == ["deal_line", "quote_line", "invoice_line"]


@pytest.mark.parametrize(("line", "document"), [("quote_line", "quote"),
                                                ("invoice_line", "invoice")])
def test_quote_and_invoice_lines_take_the_rate_of_their_deal_s_country(
        line: str, document: str) -> None:
    context = _context(rates={"DE": 19}, default_rate=0)
    company = context.records.add("company", name="ACME", country="DE")
    deal = context.records.add("deal", title="Big", company=company["id"])
    parent = context.records.add(document, deal=deal["id"])
    saved = context.save(line, {document: parent["id"], "quantity": "1", "tax_rate": "20"})
    assert saved["tax_rate"] == "19"
    strict = _context(rates={"DE": 19})
    orphan = strict.records.add(document, deal=None)
    with pytest.raises(Refused) as caught:
        strict.save(line, {document: orphan["id"]})
    assert [e.pointer for e in caught.value.errors] == [f"/{document}"]
