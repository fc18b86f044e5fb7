"""Reading the bounce mailbox's messages: final failures and complaints name the address
and the original Message-ID; delays and ordinary replies are ignored."""

from __future__ import annotations

from mailing_reports import arf, dsn

from metacrm.marketing.mailings.dsn import MailFeedback, read_feedback


def test_a_failed_delivery_report_is_a_bounce_of_that_address() -> None:
    found = read_feedback(dsn("Gone@Example.org", "<m.1@shop.example>"))
    assert found == MailFeedback("bounce", ("gone@example.org",), "<m.1@shop.example>",
                                 "5.1.1")


def test_a_delayed_delivery_report_is_not_a_bounce() -> None:
    assert read_feedback(dsn("slow@example.org", "<m.2@shop.example>",
                             action="delayed", status="4.4.1")) is None


def test_an_abuse_report_is_a_complaint() -> None:
    found = read_feedback(arf("angry@example.org", "<m.3@shop.example>"))
    assert found == MailFeedback("complaint", ("angry@example.org",), "<m.3@shop.example>",
                                 "abuse")


def test_a_mailto_unsubscribe_carries_its_token_and_sender() -> None:
    raw = (b"From: Ann <ann@example.org>\r\nTo: bounces@shop.example\r\n"
           b"Subject: unsubscribe TOKEN.abc-1\r\n\r\n")
    assert read_feedback(raw) == MailFeedback("unsubscribe", ("ann@example.org",), None,
                                              None, "TOKEN.abc-1")


def test_an_ordinary_reply_is_ignored() -> None:
    raw = (b"From: Ann <ann@example.org>\r\nTo: bounces@shop.example\r\n"
           b"Subject: Re: Sale\r\n\r\nThanks, how much is it?\r\n")
    assert read_feedback(raw) is None
