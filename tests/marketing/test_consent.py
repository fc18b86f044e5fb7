"""The consent ledger: what `may_email` answers after opt-ins, confirmations,
withdrawals, per-list and global unsubscribes, bounces and a person's opt-out box."""

from __future__ import annotations

import uuid

import pytest
from mkt_harness import Marketing

from metacrm.kernel.errors import ValidationFailed
from metacrm.marketing.consent import ConfirmationLinkInvalid


def _address() -> str:
    return f"someone.{uuid.uuid4().hex[:10]}@example.com"


def _list(mkt: Marketing, name: str) -> str:
    return mkt.create("segment", name=name, entity="person")["id"]


def test_no_mail_without_a_granted_consent_for_the_purpose(mkt: Marketing) -> None:
    ledger = mkt.services.marketing.consent
    address = _address()

    assert not ledger.may_email(address, list_id=None)
    consent = ledger.opt_in(address.upper(), source="import", source_detail="fair.csv")

    assert (consent["email"], consent["status"], consent["purpose"]) == (
        address, "granted", "marketing")
    assert ledger.may_email(address, list_id=None)
    assert ledger.may_email(address.upper(), list_id=None)
    assert not ledger.may_email(address, list_id=None, purpose="newsletter")
    ledger.withdraw(address, source="phone call")
    assert not ledger.may_email(address, list_id=None)
    assert mkt.get("consent", consent["id"])["withdrawn_at"] is not None


def test_a_list_unsubscribe_stops_that_list_only(mkt: Marketing) -> None:
    ledger = mkt.services.marketing.consent
    address = _address()
    news, offers = _list(mkt, "News"), _list(mkt, "Offers")
    ledger.opt_in(address)

    ledger.unsubscribe(address, list_id=news, source="one-click")
    ledger.unsubscribe(address, list_id=news, source="one-click")  # idempotent

    assert not ledger.may_email(address, list_id=news)
    assert ledger.may_email(address, list_id=offers)
    assert ledger.may_email(address, list_id=None)
    rows = mkt.services.records.list(mkt.admin, "email_suppression", criteria={
        "field": "email", "op": "eq", "value": address}).records
    assert [(r["list"], r["reason"]) for r in rows] == [(news, "unsubscribe")]
    with pytest.raises(ValidationFailed) as refused:
        ledger.unsubscribe(address, list_id="0190d0c8-0000-7000-8000-000000000000",
                           source="x")
    assert refused.value.errors[0].pointer == "/list_id"


def test_a_global_unsubscribe_stops_everything_and_marks_the_person(mkt: Marketing) -> None:
    ledger = mkt.services.marketing.consent
    address = _address()
    person = mkt.create("person", last_name="Opted", email=address)["id"]
    news = _list(mkt, "News")
    ledger.opt_in(address, person=person)

    ledger.unsubscribe(address, list_id=None, source="preference page")

    assert not ledger.may_email(address, list_id=news)
    assert not ledger.may_email(address, list_id=None)
    assert mkt.get("person", person)["email_opt_out"] is True
    mkt.services.records.update(mkt.admin, "person", person, {"email_opt_out": False})
    assert not ledger.may_email(address, list_id=None)  # the suppression still holds


def test_a_person_opted_out_on_their_page_is_not_mailed(mkt: Marketing) -> None:
    ledger = mkt.services.marketing.consent
    address = _address()
    person = mkt.create("person", last_name="Box", email=address)["id"]
    ledger.opt_in(address)
    assert ledger.may_email(address, list_id=None)

    mkt.services.records.update(mkt.admin, "person", person, {"email_opt_out": True})

    assert not ledger.may_email(address, list_id=None)


def test_bounces_and_complaints_suppress_the_address(mkt: Marketing) -> None:
    ledger = mkt.services.marketing.consent
    bounced, complained = _address(), _address()
    for address in (bounced, complained):
        ledger.opt_in(address)

    ledger.suppress(bounced, reason="bounce")
    ledger.suppress(complained, reason="complaint")

    assert not ledger.may_email(bounced, list_id=None)
    assert not ledger.may_email(complained, list_id=None)
    with pytest.raises(ValidationFailed) as refused:
        ledger.suppress(bounced, reason="annoyed")
    assert refused.value.errors[0].pointer == "/reason"
    with pytest.raises(ValidationFailed) as bad:
        ledger.suppress("not an address", reason="bounce")
    assert bad.value.errors[0].pointer == "/email"


def test_double_opt_in_waits_for_the_signed_link(mkt: Marketing) -> None:
    ledger = mkt.services.marketing.consent
    address = _address()
    person = mkt.create("person", last_name="Double", email=address)["id"]
    ledger.unsubscribe(address, list_id=None, source="earlier")

    pending = ledger.opt_in(address, source="web_form", double_opt_in=True)

    assert pending["status"] == "pending"
    assert not ledger.may_email(address, list_id=None)
    with pytest.raises(ConfirmationLinkInvalid):
        ledger.confirm(ledger.confirmation_token(pending["id"]) + "x")
    token = ledger.confirmation_link(pending["id"]).rsplit("/", 1)[1]
    confirmed = ledger.confirm(token)
    assert (confirmed["status"], confirmed["granted_at"] is not None) == ("granted", True)
    assert ledger.confirm(token)["status"] == "granted"  # opening it twice is harmless
    assert ledger.may_email(address, list_id=None)  # the address asked again
    assert mkt.get("person", person)["email_opt_out"] is False


def test_a_confirmation_does_not_lift_a_bounce(mkt: Marketing) -> None:
    ledger = mkt.services.marketing.consent
    address = _address()
    ledger.suppress(address, reason="bounce")
    pending = ledger.opt_in(address, double_opt_in=True)

    ledger.confirm(ledger.confirmation_token(pending["id"]))

    assert not ledger.may_email(address, list_id=None)
