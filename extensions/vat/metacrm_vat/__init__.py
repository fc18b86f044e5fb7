"""VAT on deal lines (metacrm pack `vat`), written only against `metacrm.extension`.

Before each deal line is saved, its net amount (quantity × unit price, less the discount)
gets the VAT rate of the deal's company's country (`rates` setting, percent by ISO code),
else the `default_rate` setting; the line's `tax_rate`, `tax_amount` and `gross_amount` are
filled. A line whose country has no rate while no default is set is refused at `/deal`.

Quote and invoice lines of the Sales pack carry their own `tax_rate` (the product's, by
default), which their formulas turn into tax and totals: with this pack installed, the rate
of the country of their deal's company (through the quote or the invoice) replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from metacrm.extension import ExtensionContext, PendingSave, Refused

CENT = Decimal("0.01")
ENTITY = "deal_line"
DOCUMENT_LINES = {"quote_line": "quote", "invoice_line": "invoice"}
"""Line entity -> the reference to its document, which names the deal."""


def _decimal(value: Any, default: str = "0") -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(default)
    except InvalidOperation:
        return Decimal(default)


class VatRates:
    """The configured rates: by country, else the default."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        rates = settings.get("rates") or {}
        self.by_country = {str(k).upper(): _decimal(v) for k, v in rates.items()}
        default = settings.get("default_rate")
        self.default = None if default is None else _decimal(default)

    def rate(self, country: str | None) -> Decimal | None:
        if country and country.strip().upper() in self.by_country:
            return self.by_country[country.strip().upper()]
        return self.default


def _country(save: PendingSave, document: str | None = None) -> str | None:
    deal_id = save.record.get("deal")
    if document is not None:
        document_id = save.record.get(document)
        deal_id = save.reader.get(document, str(document_id)).get("deal") if document_id \
            else None
    if not deal_id:
        return None
    deal = save.reader.get("deal", str(deal_id))
    company_id = deal.get("company")
    if not company_id:
        return None
    country = save.reader.get("company", str(company_id)).get("country")
    return str(country) if country else None


def line_taxes(save: PendingSave, rates: VatRates) -> dict[str, Any] | None:
    """The VAT fields of the line being saved (None: no unit price, nothing to tax)."""
    price = save.record.get("unit_price")
    if not isinstance(price, Mapping) or price.get("amount") in (None, ""):
        return None
    currency = str(price.get("currency") or "USD")
    net = (_decimal(save.record.get("quantity"), "1") * _decimal(price["amount"])
           * (1 - _decimal(save.record.get("discount")) / 100)).quantize(CENT, ROUND_HALF_UP)
    country = _country(save)
    rate = rates.rate(country)
    if rate is None:
        where = f"country {country!r}" if country else "a deal without a company country"
        raise Refused(f"no VAT rate for {where}, and no default_rate is set", "/deal")
    tax = (net * rate / 100).quantize(CENT, ROUND_HALF_UP)
    return {
        "tax_rate": str(rate),
        "tax_amount": {"amount": str(tax), "currency": currency},
        "gross_amount": {"amount": str(net + tax), "currency": currency},
    }


def document_line_rate(save: PendingSave, rates: VatRates, document: str
                       ) -> dict[str, Any] | None:
    """The VAT rate of a quote or invoice line (its formulas compute tax and totals)."""
    country = _country(save, document)
    rate = rates.rate(country)
    if rate is None:
        where = f"country {country!r}" if country else "a deal without a company country"
        raise Refused(f"no VAT rate for {where}, and no default_rate is set", f"/{document}")
    return {"tax_rate": str(rate)}


def install(ctx: ExtensionContext) -> None:
    rates = VatRates(ctx.settings)
    ctx.intercept(ENTITY, lambda save: line_taxes(save, rates), order=50)
    for line, document in DOCUMENT_LINES.items():
        ctx.intercept(line, lambda save, document=document: document_line_rate(
            save, rates, document), order=50)
