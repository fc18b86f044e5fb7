"""The Sales pack's price lists, quotes and invoices on the shipped packs, end to end.

A rep builds a quote on a deal from a price list through the HTTP API: line prices come
from the price list and tax rates from the products, totals are rollups the rep cannot
write; accepting the quote copies its lines to the deal, whose amount follows. Invoices
bill an accepted quote or a won deal only (a validation rule of the pack), are numbered per
fiscal year (also when created concurrently), take their lines from the quote or the deal,
get a due date from their payment terms and become overdue the day after it (a time
trigger ticked with a frozen clock).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from metacrm.access.subject import AccessSubject
from metacrm.api import RUNTIME_KEY
from metacrm.automation.install import TIME_TASK
from metacrm.automation.subject import automation_subject
from metacrm.composition import Services
from metacrm.fieldtypes import default_registry
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.metadata.loader import read_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.validation_rules import RuleViolated
from metacrm.storage.engine import create_database_engine
from web_harness import PASSWORD, Web, bearer, open_web

METADATA = Path(__file__).resolve().parents[2] / "metadata"


def apply_shipped_packs(database_url: str) -> None:
    documents, errors = read_documents([METADATA])
    assert errors == []
    engine = create_database_engine(database_url)
    try:
        MetadataService(engine, default_registry()).apply(documents, author="test")
    finally:
        engine.dispose()


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


class Shop:
    def __init__(self, web: Web) -> None:
        self.web = web

    @property
    def services(self) -> Services:
        services: Services = self.web.app.extensions[RUNTIME_KEY].services
        return services

    @property
    def admin(self) -> AccessSubject:
        return automation_subject(self.services.records.runtime().model, "test_setup")

    def create(self, entity: str, **values: Any) -> dict[str, Any]:
        return self.services.records.create(self.admin, entity, values)

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        return self.services.records.get(self.admin, entity, record_id)

    def children(self, entity: str, via: str, parent: str) -> list[dict[str, Any]]:
        return self.services.records.list(self.admin, entity, criteria={
            "field": via, "op": "eq", "value": parent}, sort=["created_at"]).records

    def rep(self) -> tuple[str, dict[str, str]]:
        """A sales rep's user id and API headers."""
        with self.web.app.app_context():
            state = identity_state()
            user = create_user(state.appbuilder, state.metadata.live().model,
                               username="rita", role="sales_rep", password=PASSWORD,
                               email="rita@example.com")
        return str(user.id), bearer(self.web.login("rita", PASSWORD))

    def catalogue(self) -> dict[str, Any]:
        company = self.create("company", name="Acme")
        laptop = self.create("product", name="Laptop", price=usd("1200.00"), tax_rate="20")
        mouse = self.create("product", name="Mouse", price=usd("30.00"), tax_rate="10")
        prices = self.create("price_list", name="2026 partners", currency="USD")
        self.create("price_list_item", price_list=prices["id"], product=laptop["id"],
                    unit_price=usd("1000.00"))
        self.create("price_list_item", price_list=prices["id"], product=mouse["id"],
                    unit_price=usd("25.00"))
        return {"company": company, "laptop": laptop, "mouse": mouse, "prices": prices}


@pytest.fixture
def shop(isolated_database_url: str, tmp_path: Path) -> Iterator[Shop]:
    apply_shipped_packs(isolated_database_url)
    with open_web(isolated_database_url, tmp_path, roles=()) as web:
        yield Shop(web)


def call(shop: Shop, method: str, path: str, headers: dict[str, str], status: int,
         body: Any = None) -> Any:
    response = shop.web.client.open(f"/api/v1{path}", method=method, json=body,
                                    headers=headers)
    assert response.status_code == status, (path, response.get_json())
    return response.get_json()


def test_a_quote_priced_from_a_price_list_is_accepted_and_becomes_the_deal_s_lines(
        shop: Shop) -> None:
    things = shop.catalogue()
    rita, rep = shop.rep()
    customer = shop.create("company", name="Rita's customer", owner=rita)
    deal = call(shop, "POST", "/records/deal", rep, 201, {
        "title": "Office kit", "company": customer["id"],
        "price_list": things["prices"]["id"]})["data"]
    quote = call(shop, "POST", "/records/quote", rep, 201, {
        "deal": deal["id"], "price_list": things["prices"]["id"],
        "valid_until": "2030-01-31"})["data"]
    assert (quote["number"], quote["stage"], quote["lines"]) == ("Q-000001", "draft", 0)
    assert quote["subtotal"] == usd("0.00") and quote["total"] == usd("0.00")

    laptops = call(shop, "POST", "/records/quote_line", rep, 201, {
        "quote": quote["id"], "product": things["laptop"]["id"], "quantity": "2"})["data"]
    assert laptops["unit_price"] == usd("1000.00") and laptops["tax_rate"] == "20.00"
    assert (laptops["net"], laptops["tax_amount"], laptops["total"]) == (
        usd("2000.00"), usd("400.00"), usd("2400.00"))
    call(shop, "POST", "/records/quote_line", rep, 201, {
        "quote": quote["id"], "product": things["mouse"]["id"], "quantity": "4",
        "discount": "10"})
    quote = call(shop, "GET", f"/records/quote/{quote['id']}", rep, 200)["data"]
    assert (quote["lines"], quote["subtotal"], quote["tax_total"], quote["total"]) == (
        2, usd("2090.00"), usd("409.00"), usd("2499.00"))

    refused = call(shop, "PATCH", f"/records/quote/{quote['id']}", rep, 422,
                   {"total": usd("1.00")})
    assert [e["pointer"] for e in refused["errors"]] == ["/total"]
    refused = call(shop, "PATCH", f"/records/quote_line/{laptops['id']}", rep, 422,
                   {"net": usd("1.00")})
    assert [e["pointer"] for e in refused["errors"]] == ["/net"]

    for name in ("send", "accept"):
        call(shop, "POST", f"/records/quote/{quote['id']}/transitions/{name}", rep, 200)

    lines = shop.children("deal_line", "deal", deal["id"])
    assert [(line["product"], line["quantity"], line["unit_price"], line["total"])
            for line in lines] == [
        (things["laptop"]["id"], "2.000", usd("1000.00"), usd("2000.00")),
        (things["mouse"]["id"], "4.000", usd("25.00"), usd("90.00"))]
    assert call(shop, "GET", f"/records/deal/{deal['id']}", rep, 200)["data"]["amount"] == \
        usd("2090.00")
    seen = call(shop, "GET", f"/records/deal_line?filter[deal]={deal['id']}", rep, 200)
    assert len(seen["data"]) == 2  # the copies are the deal owner's: the rep sees them


def accepted_quote(shop: Shop, things: dict[str, Any]) -> dict[str, Any]:
    deal = shop.create("deal", title="Kit", company=things["company"]["id"],
                       price_list=things["prices"]["id"])
    quote = shop.create("quote", deal=deal["id"], price_list=things["prices"]["id"],
                        valid_until="2030-01-31")
    shop.create("quote_line", quote=quote["id"], product=things["laptop"]["id"], quantity="1")
    transitions = shop.services.transitions
    for name in ("send", "accept"):
        transitions.transition(shop.admin, "quote", quote["id"], name)
    return shop.get("quote", quote["id"])


def won_deal(shop: Shop, things: dict[str, Any], deal_id: str | None = None
             ) -> dict[str, Any]:
    """A deal (`deal_id`, else a new one) moved to won."""
    if deal_id is None:
        deal_id = shop.create("deal", title="Kit", company=things["company"]["id"],
                              amount=usd("100.00"))["id"]
    transitions = shop.services.transitions
    transitions.transition(shop.admin, "deal", deal_id, "propose", {"close_date": "2030-01-31"})
    transitions.transition(shop.admin, "deal", deal_id, "win")
    return shop.get("deal", deal_id)


def test_an_invoice_bills_an_accepted_quote_or_a_won_deal_only(shop: Shop) -> None:
    things = shop.catalogue()
    open_deal = shop.create("deal", title="Open", company=things["company"]["id"],
                            price_list=things["prices"]["id"])
    sent = shop.create("quote", deal=open_deal["id"], price_list=things["prices"]["id"],
                       valid_until="2030-01-31")
    shop.create("quote_line", quote=sent["id"], product=things["laptop"]["id"], quantity="1")
    shop.services.transitions.transition(shop.admin, "quote", sent["id"], "send")
    for values in ({"deal": open_deal["id"]}, {"deal": open_deal["id"], "quote": sent["id"]}):
        with pytest.raises(RuleViolated) as refused:
            shop.create("invoice", issue_date="2030-03-10", **values)
        assert [e.pointer for e in refused.value.errors] == ["/deal"]
        assert "accepted quote or a won deal" in refused.value.errors[0].message
        assert refused.value.messages[refused.value.errors[0]]["ru"].startswith("Счёт")
    for entity in ("invoice", "invoice_line"):  # nothing half-written
        assert shop.services.records.list(shop.admin, entity).records == []

    shop.services.transitions.transition(shop.admin, "quote", sent["id"], "accept")
    from_quote = shop.create("invoice", deal=open_deal["id"], quote=sent["id"])
    assert from_quote["quote_stage"] == "accepted"
    won = won_deal(shop, things)
    from_deal = shop.create("invoice", deal=won["id"])
    assert from_deal["deal_stage"] == "won"
    # the rule guards creation: an issued invoice stays editable when its deal reopens
    shop.services.transitions.transition(shop.admin, "deal", won["id"], "reopen")
    assert shop.services.records.update(shop.admin, "invoice", from_deal["id"],
                                        {"payment_terms": "net_60"})["deal_stage"] == \
        "qualification"


def test_invoices_take_their_lines_from_the_quote_or_the_deal_and_are_numbered_per_year(
        shop: Shop) -> None:
    things = shop.catalogue()
    quote = accepted_quote(shop, things)
    year = datetime.now(UTC).year

    invoice = shop.create("invoice", deal=quote["deal"], quote=quote["id"],
                          issue_date="2030-03-10", payment_terms="net_15")
    assert invoice["number"] == f"INV-{year}-0001"
    assert invoice["stage"] == "issued" and invoice["due_date"] == "2030-03-25"
    invoice = shop.get("invoice", invoice["id"])
    assert (invoice["lines"], invoice["subtotal"], invoice["total"]) == (
        quote["lines"], quote["subtotal"], quote["total"])

    won_deal(shop, things, quote["deal"])
    from_deal = shop.create("invoice", deal=quote["deal"], issue_date="2030-03-10")
    assert from_deal["number"] == f"INV-{year}-0002"
    assert from_deal["due_date"] == "2030-04-09"  # net 30 by default
    lines = shop.children("invoice_line", "invoice", from_deal["id"])
    assert [(line["product"], line["net"]) for line in lines] == [
        (things["laptop"]["id"], usd("1000.00"))]
    assert lines[0]["tax_rate"] == "20.00"  # from the product, as the deal line has none


def test_invoices_created_at_once_never_share_a_number(shop: Shop) -> None:
    things = shop.catalogue()
    deal = won_deal(shop, things)
    numbers: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def bill() -> None:
        try:
            start.wait()
            for _ in range(5):
                numbers.append(shop.create("invoice", deal=deal["id"],
                                           issue_date="2030-01-01")["number"])
        except BaseException as exc:  # reported below, with the numbers drawn
            failures.append(exc)

    threads = [threading.Thread(target=bill) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    year = datetime.now(UTC).year
    assert sorted(numbers) == [f"INV-{year}-{n:04}" for n in range(1, 11)]


def test_an_unpaid_invoice_becomes_overdue_the_day_after_its_due_date(shop: Shop) -> None:
    things = shop.catalogue()
    deal = won_deal(shop, things)
    unpaid = shop.create("invoice", deal=deal["id"], issue_date="2030-01-01",
                         payment_terms="net_15")
    paid = shop.create("invoice", deal=deal["id"], issue_date="2030-01-01",
                       payment_terms="net_15")
    transitions = shop.services.transitions
    transitions.transition(shop.admin, "invoice", paid["id"], "pay",
                           {"paid_on": "2030-01-10"})
    tick = shop.services.periodic[TIME_TASK]
    due = datetime.combine(date(2030, 1, 16), datetime.min.time(), tzinfo=UTC)

    tick(due + timedelta(hours=23))
    assert shop.get("invoice", unpaid["id"])["stage"] == "issued"
    tick(due + timedelta(days=1, minutes=5))
    assert shop.get("invoice", unpaid["id"])["stage"] == "overdue"
    assert shop.get("invoice", paid["id"])["stage"] == "paid"


def refusal(shop: Shop, entity: str, headers: dict[str, str], body: Any) -> str:
    """The one error message of a refused create, which must name the unit price."""
    refused = call(shop, "POST", f"/records/{entity}", headers, 422, body)
    assert [e["pointer"] for e in refused["errors"]] == ["/unit_price"], refused
    message: str = refused["errors"][0]["message"]
    return message


def test_a_line_is_priced_only_from_a_list_valid_on_its_document_s_date(shop: Shop) -> None:
    things = shop.catalogue()
    rita, rep = shop.rep()
    today = date.today()
    expired = shop.create("price_list", name="Partners 2025", currency="USD",
                          valid_from=str(today - timedelta(days=400)),
                          valid_to=str(today - timedelta(days=1)))
    future = shop.create("price_list", name="Partners next year", currency="USD",
                         valid_from=str(today + timedelta(days=30)))
    inactive = shop.create("price_list", name="Old partners", currency="USD", active=False)
    for prices in (expired, future, inactive):
        shop.create("price_list_item", price_list=prices["id"],
                    product=things["laptop"]["id"], unit_price=usd("900.00"))
    customer = shop.create("company", name="Rita's customer", owner=rita)

    def deal_on(prices: dict[str, Any]) -> str:
        return str(call(shop, "POST", "/records/deal", rep, 201, {
            "title": f"Kit ({prices['name']})", "company": customer["id"],
            "price_list": prices["id"]})["data"]["id"])

    line = {"product": things["laptop"]["id"], "quantity": "2"}
    message = refusal(shop, "deal_line", rep, {"deal": deal_on(expired), **line})
    assert "'Partners 2025' is valid" in message
    assert f"not on {today.isoformat()}" in message
    assert "'Partners next year' is valid" in refusal(
        shop, "deal_line", rep, {"deal": deal_on(future), **line})
    assert "'Old partners' is not active" in refusal(
        shop, "deal_line", rep, {"deal": deal_on(inactive), **line})

    # a price typed in always wins, even over a list that does not apply
    typed = call(shop, "POST", "/records/deal_line", rep, 201, {
        "deal": deal_on(expired), **line, "unit_price": usd("950.00")})["data"]
    assert typed["unit_price"] == usd("950.00")
    assert typed["total"] == usd("1900.00")

    # a current list (open-ended dates) prices the line as before
    current = deal_on(things["prices"])
    priced = call(shop, "POST", "/records/deal_line", rep, 201,
                  {"deal": current, **line})["data"]
    assert priced["unit_price"] == usd("1000.00")
    assert shop.get("deal", current)["amount"] == usd("2000.00")


def test_a_quote_line_is_priced_as_of_the_quote_s_date(shop: Shop) -> None:
    """A list that ended after the quote was made still prices the quote's new lines; one
    that started after it does not."""
    things = shop.catalogue()
    rita, rep = shop.rep()
    today = date.today()
    ending_today = shop.create("price_list", name="Ends today", currency="USD",
                               valid_to=str(today))
    shop.create("price_list_item", price_list=ending_today["id"],
                product=things["mouse"]["id"], unit_price=usd("20.00"))
    deal = shop.create("deal", title="Mice", company=things["company"]["id"], owner=rita)
    quote = call(shop, "POST", "/records/quote", rep, 201, {
        "deal": deal["id"], "price_list": ending_today["id"],
        "valid_until": str(today + timedelta(days=30))})["data"]
    line = call(shop, "POST", "/records/quote_line", rep, 201, {
        "quote": quote["id"], "product": things["mouse"]["id"], "quantity": "3"})["data"]
    assert line["unit_price"] == usd("20.00")

    tomorrow = shop.create("price_list", name="Starts tomorrow", currency="USD",
                           valid_from=str(today + timedelta(days=1)))
    call(shop, "PATCH", f"/records/quote/{quote['id']}", rep, 200,
         {"price_list": tomorrow["id"]})
    message = refusal(shop, "quote_line", rep, {
        "quote": quote["id"], "product": things["mouse"]["id"]})
    assert f"is valid {(today + timedelta(days=1)).isoformat()} – …" in message


def test_a_line_is_priced_only_from_a_list_in_its_document_s_currency(shop: Shop) -> None:
    things = shop.catalogue()
    rita, rep = shop.rep()
    euros = shop.create("price_list", name="Euro partners", currency="EUR")
    shop.create("price_list_item", price_list=euros["id"], product=things["laptop"]["id"],
                unit_price={"amount": "950.00", "currency": "EUR"})
    shop.create("price_list_item", price_list=euros["id"], product=things["mouse"]["id"],
                unit_price=usd("25.00"))  # a mistake in the list: a dollar price
    deal = shop.create("deal", title="Mixed", company=things["company"]["id"], owner=rita)
    shop.create("deal_line", deal=deal["id"], product=things["mouse"]["id"],
                unit_price=usd("30.00"))
    shop.services.records.update(shop.admin, "deal", deal["id"], {"price_list": euros["id"]})
    message = refusal(shop, "deal_line", rep, {
        "deal": deal["id"], "product": things["laptop"]["id"]})
    assert "'Euro partners' is in EUR but the other lines are in USD" in message

    fresh = shop.create("deal", title="Euros", company=things["company"]["id"],
                        price_list=euros["id"], owner=rita)
    line = call(shop, "POST", "/records/deal_line", rep, 201, {
        "deal": fresh["id"], "product": things["laptop"]["id"]})["data"]
    assert line["unit_price"] == {"amount": "950.00", "currency": "EUR"}
    message = refusal(shop, "deal_line", rep, {
        "deal": fresh["id"], "product": things["mouse"]["id"]})
    assert "is in EUR but its price for this product is in USD" in message
    assert len(shop.children("deal_line", "deal", fresh["id"])) == 1
