"""Bounces of mail sent from records (RFC 3464 delivery status notifications): the sent
message shows `failed` with the reason, and the mailer daemon never becomes a lead."""

from __future__ import annotations

from email_world import CRM, World, world

__all__ = ["world"]


def dsn(original_message_id: str, action: str = "failed") -> bytes:
    """A DSN as Postfix writes one: a note, the delivery status, the returned headers."""
    return f"""From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)
To: {CRM}
Subject: Undelivered Mail Returned to Sender
Date: Mon, 07 Dec 2026 17:00:00 +0000
Message-ID: <dsn-{abs(hash(original_message_id + action))}@mx.acme.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.example
Arrival-Date: Mon, 07 Dec 2026 16:59:58 +0000

Final-Recipient: rfc822; gone@acme.example
Original-Recipient: rfc822;gone@acme.example
Action: {action}
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@acme.example>: Recipient address
    rejected: User unknown in local recipient table

--BOUNDARY
Content-Type: text/rfc822-headers

From: {CRM}
To: gone@acme.example
Subject: Welcome aboard
Message-ID: {original_message_id}

--BOUNDARY--
""".replace("\n", "\r\n").encode()


def sent_message(world: World, subject: str) -> dict[str, object]:
    answer = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root, 202,
                        {"to": ["gone@acme.example"], "subject": subject, "body": "Hello"})
    message = dict(answer["data"])
    assert message["status"] == "sent"
    return message


def test_a_bounce_marks_the_sent_message_failed_with_the_reason(world: World) -> None:
    sent = sent_message(world, "Welcome aboard")

    answer = world.push(dsn(str(sent["message_id"])))

    assert answer.status_code == 202
    assert answer.get_json()["data"]["id"] == sent["id"]
    [stored] = world.list("email_message", "message_id", sent["message_id"])
    assert stored["status"] == "failed"
    assert stored["error"] == ("Bounced: gone@acme.example: 5.1.1 550 5.1.1 "
                               "<gone@acme.example>: Recipient address rejected: User "
                               "unknown in local recipient table")
    assert world.list("lead", "email", "mailer-daemon@mx.acme.example") == []
    assert world.list("email_message", "from_address", "mailer-daemon@mx.acme.example") == []
    on_deal = [e["record"] for e in world.timeline("deal", world.deal["id"])]
    assert {"id": sent["id"], "status": "failed"}.items() <= next(
        r for r in on_deal if r["id"] == sent["id"]).items()


def test_a_delay_report_leaves_the_message_as_it_is(world: World) -> None:
    sent = sent_message(world, "Still on its way")

    answer = world.push(dsn(str(sent["message_id"]), action="delayed"))

    assert answer.status_code == 202 and answer.get_json()["data"]["id"] == sent["id"]
    [stored] = world.list("email_message", "message_id", sent["message_id"])
    assert (stored["status"], stored["error"]) == ("sent", None)
    assert world.list("lead", "email", "mailer-daemon@mx.acme.example") == []
