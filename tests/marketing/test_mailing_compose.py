"""The MIME message of a mailing: RFC 8058 one-click headers, a visible unsubscribe link in
both parts, the open pixel only when asked, and escaped HTML."""

from __future__ import annotations

from email import message_from_bytes, policy

from metacrm.marketing.mailings.compose import OutgoingMail, compose


def mail(**changes: object) -> OutgoingMail:
    values: dict[str, object] = dict(
        from_address="news@shop.example", from_name="Shop", to="ann@example.org",
        subject="Sale", text="Hi <Ann> & co,\n\nSee https://crm.example/m/c/TOK now.",
        message_id="<x1@shop.example>", unsubscribe_url="https://crm.example/m/u/UNSUB",
        unsubscribe_mailto="bounces@shop.example", unsubscribe_token="UNSUB")
    values.update(changes)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def test_headers_name_the_https_link_first_and_allow_one_click() -> None:
    message = message_from_bytes(compose(mail()).as_bytes(), policy=policy.default)
    assert message["List-Unsubscribe"] == (
        "<https://crm.example/m/u/UNSUB>, "
        "<mailto:bounces@shop.example?subject=unsubscribe%20UNSUB>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == "<x1@shop.example>"


def test_both_parts_show_the_unsubscribe_link_and_html_is_escaped() -> None:
    message = compose(mail(language="ru"))
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Отписаться:\nhttps://crm.example/m/u/UNSUB" in text
    assert '<a href="https://crm.example/m/u/UNSUB">' in html
    assert "Hi &lt;Ann&gt; &amp; co," in html
    assert '<a href="https://crm.example/m/c/TOK">' in html
    assert "<img" not in html


def test_the_open_pixel_is_added_when_tracking_opens() -> None:
    message = compose(mail(open_pixel_url="https://crm.example/m/o/OPEN"))
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<img src="https://crm.example/m/o/OPEN" width="1" height="1" alt="">' in html


def test_without_a_bounce_mailbox_only_the_https_target_is_listed() -> None:
    message = compose(mail(unsubscribe_mailto=None))
    assert message["List-Unsubscribe"] == "<https://crm.example/m/u/UNSUB>"
