"""Signed mailing tokens and click tracking: links are rewritten to the signed route, and
a click goes only to the URL the mailing recorded — forged tokens, tokens of another
route and links changed since sending are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metacrm.marketing.mailings.links import destination, rewrite, tracked_links, url_digest
from metacrm.marketing.mailings.tokens import InvalidToken, MailingTokens

SECRET = "test-secret-key-of-the-instance"


def test_tracked_links_are_the_literal_urls_of_the_template_in_order() -> None:
    body = ("Hello {{ record.first_name }}!\nSee https://shop.example/sale, and "
            "https://shop.example/sale again, then (https://blog.example/post?id=1).\n"
            "Yours: https://shop.example/u/{{ record.id }}")
    assert tracked_links(body) == ["https://shop.example/sale",
                                   "https://blog.example/post?id=1"]


def test_rewrite_replaces_only_tracked_urls() -> None:
    links = ["https://shop.example/sale"]
    text = "Go https://shop.example/sale. Not https://shop.example/sales or https://x.example"
    out = rewrite(text, links, lambda index, url: f"https://crm.example/m/c/T{index}")
    assert out == ("Go https://crm.example/m/c/T0. Not https://shop.example/sales or "
                   "https://x.example")


def test_a_click_token_leads_to_the_recorded_url_only() -> None:
    tokens = MailingTokens(SECRET)
    links = ["https://shop.example/sale", "https://blog.example/post"]
    token = tokens.click("rcpt1", 1, url_digest(links[1]))
    assert destination(tokens.read_click(token), links) == "https://blog.example/post"
    changed = ["https://shop.example/sale", "https://evil.example/"]
    with pytest.raises(InvalidToken):
        destination(tokens.read_click(token), changed)
    with pytest.raises(InvalidToken):
        destination(tokens.read_click(token), links[:1])


def test_forged_and_foreign_tokens_are_refused() -> None:
    tokens = MailingTokens(SECRET)
    other = MailingTokens("another-instance-secret")
    forged = other.click("rcpt1", 0, url_digest("https://evil.example/"))
    with pytest.raises(InvalidToken):
        tokens.read_click(forged)
    with pytest.raises(InvalidToken):  # an open token is no click token
        tokens.read_click(tokens.open("rcpt1"))
    with pytest.raises(InvalidToken):
        tokens.read_unsubscribe(tokens.open("rcpt1"))
    with pytest.raises(InvalidToken):
        tokens.read_open("not-a-token")


def test_unsubscribe_token_round_trip() -> None:
    tokens = MailingTokens(SECRET)
    read = tokens.read_unsubscribe(tokens.unsubscribe("rcpt1", "mail1", "seg1"))
    assert (read.recipient_id, read.mailing_id, read.list_id) == ("rcpt1", "mail1", "seg1")


@given(st.text(max_size=60))
def test_any_text_is_refused_or_names_a_recorded_link(text: str) -> None:
    tokens = MailingTokens(SECRET)
    links = ["https://shop.example/sale"]
    try:
        url = destination(tokens.read_click(text), links)
    except InvalidToken:
        return
    assert url in links
