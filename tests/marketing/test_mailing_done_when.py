"""Issue 17's "Done when" for mailings: a mailing to a segment of 1,000 persons through a
real SMTP server on loopback. Persons without consent and globally unsubscribed ones
receive nothing; a one-click unsubscribe POST from one message stops the next mailing to
that person but not their other lists; a click is recorded and redirected only to the
mailing's own link."""

from __future__ import annotations

from mailing_world import CLICK, MailingWorld, public_path, world

from metacrm.marketing.mailings.links import url_digest
from metacrm.marketing.mailings.tokens import MailingTokens

__all__ = ["world"]

TAG = "audience"


def test_a_mailing_to_a_thousand_persons(world: MailingWorld) -> None:
    consent = world.services.marketing.consent
    people = world.persons(TAG, 1000)
    no_consent = {p["email"] for i, p in enumerate(people) if i % 10 == 0}
    unsubscribed = {p["email"] for i, p in enumerate(people) if i % 10 == 1}
    world.grant([p for p in people if p["email"] not in no_consent])
    for email in unsubscribed:
        consent.unsubscribe(email, list_id=None, source="test")
    expected = sorted({p["email"] for p in people} - no_consent - unsubscribed)
    news = world.segment(TAG, "Newsletter")
    offers = world.segment(TAG, "Offers")

    first = world.mailing(news)
    progress = world.send(first["id"])
    assert progress["status"] == "sent"
    assert (progress["recipients_count"], progress["sent_count"],
            progress["skipped_count"], progress["failed_count"]) == (1000, 800, 200, 0)
    messages = list(world.smtp.messages)
    assert world.received_by(messages) == expected  # each once, nobody else

    # RFC 8058 headers and a working one-click unsubscribe from the first message's list
    leaving = next(m for m in messages if m.recipients == [expected[0]])
    headers = leaving.message
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = headers["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    assert leaving.message["Subject"] == "Hello P" + expected[0].split(".")[1].split("@")[0]
    answer = world.web.client.post(public_path(https), data="List-Unsubscribe=One-Click",
                                   content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200

    # a click goes to the mailing's link and is recorded
    clicker = next(m for m in messages if m.recipients == [expected[1]])
    link = CLICK.search(clicker.part("text/plain"))
    assert link is not None
    answer = world.web.client.get(public_path(link.group(0)))
    assert (answer.status_code, answer.headers["Location"]) == (302,
                                                                 "https://shop.example/sale")
    progress = world.call("GET", f"/records/mailing/{first['id']}/progress", world.mia, 200)
    assert (progress["clicked_count"], progress["opened_count"]) == (1, 1)

    # ...and nowhere else: a tampered token, one signed by another key for another URL
    assert world.web.client.get(public_path(link.group(0)) + "x").status_code == 404
    forged = MailingTokens("an attacker's key").click(
        clicker.message["Message-ID"], 0, url_digest("https://evil.example/"))
    assert world.web.client.get(f"/m/c/{forged}").status_code == 404

    # the next mailing to the same list skips the person who left it...
    world.smtp.messages.clear()
    second = world.send(world.mailing(news, name="January sale")["id"])
    assert second["sent_count"] == 799
    assert expected[0] not in world.received_by(world.smtp.messages)

    # ...but their other lists still reach them
    world.smtp.messages.clear()
    third = world.send(world.mailing(offers, name="Offers")["id"])
    assert third["sent_count"] == 800
    assert expected[0] in world.received_by(world.smtp.messages)
