"""Web-to-lead forms: the public page, what a submission may write, its UTM source and
consent, and every refusal (origin, honeypot, rate limit, bad input) as a clear 4xx."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from mkt_harness import marketing_documents
from web_world import MarketingWeb

from metacrm.kernel.errors import MetacrmError
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document

OWN = "http://localhost"
SHOP = "https://shop.example"
_addresses = itertools.count(1)


def _client() -> dict[str, str]:
    """A client address of its own per submission series (the rate limit counts them)."""
    return {"REMOTE_ADDR": f"10.0.0.{next(_addresses)}"}


def _post(mweb: MarketingWeb, form: str, data: dict[str, str], *, origin: str | None = OWN,
          client: dict[str, str] | None = None, query: str = "") -> Any:
    headers = {"Origin": origin} if origin else {}
    return mweb.web.client.post(f"/forms/{form}{query}", data=data, headers=headers,
                                environ_base=client or _client())


def _leads(mweb: MarketingWeb, last_name: str) -> list[dict[str, Any]]:
    page = mweb.services.records.runtime()
    with mweb.services.engine.connect() as conn:
        found = page.system.query(conn, "lead", criteria={
            "field": "last_name", "op": "eq", "value": last_name}, limit=10)
    return [page.json.record("lead", record) for record in found.records]


def _consents(mweb: MarketingWeb, email: str) -> list[dict[str, Any]]:
    runtime = mweb.services.records.runtime()
    with mweb.services.engine.connect() as conn:
        found = runtime.system.query(conn, "consent", criteria={
            "field": "email", "op": "eq", "value": email}, limit=10)
    return [runtime.json.record("consent", record) for record in found.records]


def test_the_form_page_shows_the_fields_and_may_be_framed_by_its_sites(
        mweb: MarketingWeb) -> None:
    page = mweb.web.client.get("/forms/test_signup?utm_source=mail&lang=ru")
    text = page.get_data(as_text=True)

    assert page.status_code == 200
    assert 'name="last_name"' in text and 'name="website_url"' in text
    assert "Присылайте рассылку" in text
    assert 'name="utm_source" value="mail"' in text
    assert "frame-ancestors 'self' https://shop.example" in page.headers[
        "Content-Security-Policy"]
    assert mweb.web.client.get("/forms/nothing_here").status_code == 404


def test_a_submission_creates_a_lead_with_its_utm_source_campaign_and_consent(
        mweb: MarketingWeb) -> None:
    tag = uuid.uuid4().hex[:8]
    campaign = mweb.create("campaign", name=f"Autumn {tag}", utm_campaign=f"autumn-{tag}")
    email = f"visitor.{tag}@example.com"

    response = _post(mweb, "contact_us", {
        "first_name": "Vera", "last_name": f"Visitor {tag}", "email": email,
        "company_name": "Acme", "notes": "Call me", "consent": "on",
        "utm_source": "newsletter", "utm_medium": "email",
        "utm_campaign": f"autumn-{tag}"})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Thank you" in response.get_data(as_text=True)
    [lead] = _leads(mweb, f"Visitor {tag}")
    assert (lead["email"], lead["company_name"], lead["source"], lead["campaign"]) == (
        email, "Acme", "website", campaign)
    assert lead["utm"] == {"source": "newsletter", "medium": "email",
                           "campaign": f"autumn-{tag}"}
    [consent] = _consents(mweb, email)
    assert (consent["status"], consent["source"], consent["lead"]) == (
        "pending", "web_form", lead["id"])  # contact_us asks for a double opt-in
    assert "I agree to receive marketing email" in consent["consent_text"]
    ledger = mweb.services.marketing.consent
    assert not ledger.may_email(email, list_id=None)
    confirm = mweb.web.client.get(
        f"/marketing/confirm/{ledger.confirmation_token(consent['id'])}")
    assert confirm.status_code == 200
    assert ledger.may_email(email, list_id=None)
    assert mweb.web.client.get("/marketing/confirm/forged").status_code == 404


def test_an_allowed_site_is_redirected_and_its_single_opt_in_granted(
        mweb: MarketingWeb) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"shopper.{tag}@example.com"

    response = _post(mweb, "test_signup", {"last_name": f"Shopper {tag}", "email": email,
                                           "consent": "on"}, origin=SHOP)

    assert (response.status_code, response.headers["Location"]) == (
        303, "https://shop.example/thanks")
    [lead] = _leads(mweb, f"Shopper {tag}")
    assert lead["source"] == "advertising"
    [consent] = _consents(mweb, email)
    assert (consent["purpose"], consent["status"]) == ("newsletter", "granted")


@pytest.mark.parametrize(("data", "shown"), [
    ({"last_name": "X", "email": "a@b.example", "status": "converted"},
     ('<p class="error">status: this form has no such field</p>',)),
    ({"last_name": "X", "email": "a@b.example", "owner": "1"},
     ('<p class="error">owner: this form has no such field</p>',)),
    ({"last_name": "X", "email": "a@b.example", "score": "100"},
     ('<p class="error">score: this form has no such field</p>',)),
    ({"email": "a@b.example"}, ('name="last_name"', '<p class="error">is required</p>')),
    ({"last_name": "X", "email": "not an address"},
     ('name="email" value="not an address"', '<p class="error">')),
])
def test_the_public_route_writes_only_what_the_form_allows(
        mweb: MarketingWeb, data: dict[str, str], shown: tuple[str, ...]) -> None:
    marker = f"Refused {uuid.uuid4().hex[:8]}"
    sent = {**data, **({"last_name": marker} if "last_name" in data else {})}

    response = _post(mweb, "test_signup", sent, origin=SHOP)

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    for snippet in shown:  # in this order: the problem shows by its field
        assert snippet in text, snippet
        text = text.split(snippet, 1)[1]
    assert _leads(mweb, marker) == []


@pytest.mark.parametrize(("origin", "referer"), [
    ("https://evil.example", None), (None, None), (None, "https://evil.example/page"),
    ("null", None),
])
def test_other_origins_are_refused(mweb: MarketingWeb, origin: str | None,
                                   referer: str | None) -> None:
    marker = f"Forged {uuid.uuid4().hex[:8]}"
    headers = {key: value for key, value in (("Origin", origin), ("Referer", referer))
               if value}

    response = mweb.web.client.post("/forms/test_signup", headers=headers,
                                    data={"last_name": marker, "email": "f@x.example"},
                                    environ_base=_client())

    assert response.status_code == 403
    assert _leads(mweb, marker) == []


def test_a_filled_honeypot_looks_accepted_but_writes_nothing(mweb: MarketingWeb) -> None:
    marker = f"Bot {uuid.uuid4().hex[:8]}"

    response = _post(mweb, "test_signup", {"last_name": marker, "email": "bot@x.example",
                                           "website_url": "http://spam.example"},
                     origin=SHOP)

    assert response.status_code == 303
    assert _leads(mweb, marker) == []


def test_an_address_gets_its_submissions_per_hour_then_429(mweb: MarketingWeb) -> None:
    client = _client()
    tag = uuid.uuid4().hex[:8]
    answers = [_post(mweb, "test_signup", {"last_name": f"Rate {tag} {n}",
                                           "email": f"r{n}.{tag}@x.example"},
                     origin=SHOP, client=client).status_code for n in range(4)]

    assert answers == [303, 303, 303, 429]
    assert _post(mweb, "test_signup", {"last_name": f"Rate {tag} other",
                                       "email": f"o.{tag}@x.example"},
                 origin=SHOP).status_code == 303  # another address is not limited


@pytest.mark.parametrize(("field", "message"), [
    ("converted_person", "cannot be filled in"), ("status", "cannot be filled in"),
    ("shoe_size", "unknown field"),
])
def test_a_form_naming_a_field_no_visitor_may_set_does_not_compile(
        mweb: MarketingWeb, field: str, message: str) -> None:
    bad = {"kind": "web_form", "name": "bad_form", "version": 1,
           "label": {"en": "Bad", "ru": "Плохая"},
           "fields": [{"field": "email"}, {"field": field}]}
    documents = [*marketing_documents(),
                 Document.from_body(bad, source="bad_form.json", pack="test")]

    with pytest.raises(MetacrmError) as refused:
        compile_model(documents, mweb.services.registry)
    assert any(message in e.message and e.pointer == "/fields/1/field"
               for e in refused.value.errors)
