"""Email to ticket (issue 17), on the shipped packs, a real IMAP server (dovecot) and a
local SMTP server: a support mailbox turns a new message into a ticket for the sender's
person, the agent's reply goes out with the ticket's token and is the ticket's first
response, the customer's answer is threaded on the ticket and reopens it once resolved."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from email_world import CRM, IMAP_PASSWORD, World, apply_shipped_packs, mail

from database_harness import postgres_schema, schema_url
from imap_harness import imap_server
from metacrm.email.intake import Received
from smtp_harness import smtp_server
from web_harness import open_web

SUPPORT = "support@ourco.example"


class Desk(World):
    def poll_support(self) -> list[Received]:
        return self.services.email.poller.poll(self.services.email.mailboxes.get("support"))

    def arrive(self, raw: bytes) -> Received:
        self.imap.append("support", raw)
        received = self.poll_support()
        assert len(received) == 1
        return received[0]

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/records/ticket/{ticket_id}", self.root, 200)["data"])

    def move(self, ticket_id: str, transition: str) -> dict[str, Any]:
        return dict(self.call("POST", f"/records/ticket/{ticket_id}/transitions/{transition}",
                              self.root, 200)["data"])

    def reply(self, ticket_id: str, text: str) -> dict[str, Any]:
        answer = self.call("POST", f"/records/ticket/{ticket_id}/messages", self.root, 202, {
            "mailbox": "support", "to": [self.ticket(ticket_id)["customer_email"]],
            "subject": "Re: " + self.ticket(ticket_id)["subject"], "body": text})
        return dict(answer["data"])


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root: Path = tmp_path_factory.mktemp("email_ticket")
    with ExitStack() as stack:
        imap = stack.enter_context(imap_server(root / "dovecot", ["crm", "support"]))
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'e.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        apply_shipped_packs(url)
        smtp = stack.enter_context(smtp_server())
        web = stack.enter_context(open_web(url, root / "app", roles=(),
                                           RATELIMIT_ENABLED=False))
        desk = Desk(web, imap, smtp)
        desk.call("PUT", "/mailboxes/support", desk.root, 200, {
            "address": SUPPORT, "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
            "imap_url": imap.url("support"), "imap_password": IMAP_PASSWORD,
            "create_tickets": True, "ticket_queue": "support"})
        yield desk


def test_a_new_message_becomes_a_ticket_of_the_sender_s_person(desk: Desk) -> None:
    received = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "Printer on fire",
                                "It smokes since this morning."))

    assert received.ticket_id is not None and received.lead_id is None
    ticket = desk.ticket(received.ticket_id)
    assert {key: ticket[key] for key in ("subject", "description", "channel", "queue",
                                         "customer_person", "customer_company",
                                         "customer_email", "status")} == {
        "subject": "Printer on fire", "description": "It smokes since this morning.",
        "channel": "email", "queue": "support", "customer_person": desk.pat["id"],
        "customer_company": desk.acme["id"], "customer_email": "pat@acme.example",
        "status": "new"}
    assert ticket["sla_policy"] == "standard_support" and ticket["sla_response_due"]
    assert received.regarding == {"entity": "ticket", "id": received.ticket_id}
    assert [e["record"]["subject"] for e in desk.timeline("ticket", received.ticket_id)] == [
        "Printer on fire"]
    on_pat = [e["record"]["subject"] for e in desk.timeline("person", desk.pat["id"])]
    assert "Printer on fire" in on_pat


def test_a_stranger_becomes_a_person_and_no_lead(desk: Desk) -> None:
    received = desk.arrive(mail("Nina Volkova <nina@far.example>", SUPPORT, "Где мой заказ?",
                                "Заказ 42 не пришёл."))

    people = desk.list("person", "email", "nina@far.example")
    assert [(p["first_name"], p["last_name"]) for p in people] == [("Nina", "Volkova")]
    assert desk.list("lead", "email", "nina@far.example") == []
    assert received.ticket_id is not None
    ticket = desk.ticket(received.ticket_id)
    assert ticket["customer_person"] == people[0]["id"] and ticket["subject"] == "Где мой заказ?"


def test_a_colleague_writing_to_support_makes_no_ticket(desk: Desk) -> None:
    received = desk.arrive(mail("Quinn <quinn@ourco.example>", SUPPORT, "Lunch?", "At one."))

    assert received.ticket_id is None and received.lead_id is None
    assert desk.list("ticket", "customer_email", "quinn@ourco.example") == []


def test_the_agent_s_reply_carries_the_ticket_token_and_is_the_first_response(
        desk: Desk) -> None:
    ticket_id = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "VPN down",
                                 "Cannot connect.")).ticket_id
    assert ticket_id is not None

    sent = desk.reply(ticket_id, "Please restart the client.")

    delivered = desk.smtp.messages[-1]
    assert sent["status"] == "sent" and delivered.recipients == ["pat@acme.example"]
    assert delivered.message["Message-ID"] == sent["message_id"]
    ticket = desk.ticket(ticket_id)
    first = ticket["first_response_at"]
    assert first is not None and ticket["sla_response_due"] is None
    clocks = desk.call("GET", f"/records/ticket/{ticket_id}/sla", desk.root, 200)["clocks"]
    assert clocks["first_response"]["met_at"] is not None
    assert clocks["first_response"]["breached"] is False

    desk.reply(ticket_id, "Any news?")  # a second reply is no first response
    assert desk.ticket(ticket_id)["first_response_at"] == first


def test_the_customer_s_answer_is_threaded_and_reopens_the_resolved_ticket(
        desk: Desk) -> None:
    ticket_id = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "Mail bounces",
                                 "All my mail bounces.")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "Fixed the MX record.")
    ours = desk.smtp.messages[-1].message
    desk.move(ticket_id, "start_work")
    resolved = desk.move(ticket_id, "resolve")
    assert resolved["status"] == "resolved" and resolved["resolved_at"]

    answer = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "Re: Mail bounces",
                              "Still bouncing.", reply_to=ours))

    assert answer.ticket_id is None and answer.ticket_move == "reopen"
    assert answer.regarding == {"entity": "ticket", "id": ticket_id}
    ticket = desk.ticket(ticket_id)
    assert ticket["status"] == "open" and ticket["resolved_at"] is None
    assert ticket["sla_resolution_due"] is not None  # the resolution clock runs again
    subjects = [e["record"]["subject"] for e in desk.timeline("ticket", ticket_id)]
    assert subjects[0] == "Re: Mail bounces" and "Mail bounces" in subjects
    history = desk.call("GET", f"/records/ticket/{ticket_id}/history", desk.root, 200)
    assert "mail:inbound" in {str(entry.get("actor")) for entry in history["data"]}


def test_an_answer_to_a_ticket_waiting_for_the_customer_puts_it_back_to_work(
        desk: Desk) -> None:
    ticket_id = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "Invoice copy",
                                 "Please send it again.")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "Which month?")
    ours = desk.smtp.messages[-1].message
    desk.move(ticket_id, "wait_for_customer")

    answer = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "Re: Invoice copy",
                              "November.", reply_to=ours))

    assert answer.ticket_move == "start_work"
    assert desk.ticket(ticket_id)["status"] == "open"


def test_an_answer_to_a_closed_ticket_opens_a_new_one(desk: Desk) -> None:
    ticket_id = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "Password reset",
                                 "Locked out.")).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, "Done.")
    ours = desk.smtp.messages[-1].message
    desk.move(ticket_id, "resolve")
    desk.move(ticket_id, "close")

    answer = desk.arrive(mail("Pat Lee <pat@acme.example>", SUPPORT, "Re: Password reset",
                              "Locked out again.", reply_to=ours))

    assert answer.ticket_id not in (None, ticket_id)
    assert desk.ticket(ticket_id)["status"] == "closed"
    assert desk.ticket(str(answer.ticket_id))["subject"] == "Re: Password reset"


def test_a_sales_mailbox_still_makes_leads_not_tickets(desk: Desk) -> None:
    desk.imap.append("crm", mail("Lou <lou@else.example>", CRM, "Quote?", "For 3 seats."))

    desk.poll()

    assert len(desk.list("lead", "email", "lou@else.example")) == 1
    assert desk.list("ticket", "customer_email", "lou@else.example") == []


@pytest.mark.parametrize(("body", "pointer"), [
    ({"address": SUPPORT, "create_tickets": "yes"}, "/create_tickets"),
    ({"address": SUPPORT, "create_tickets": True, "ticket_queue": 7}, "/ticket_queue"),
])
def test_a_bad_support_setting_is_refused_pointing_at_it(desk: Desk, body: dict[str, Any],
                                                         pointer: str) -> None:
    problem = desk.call("PUT", "/mailboxes/helpdesk", desk.root, 422, body)

    assert [error["pointer"] for error in problem["errors"]] == [pointer]
    names = [box["name"] for box in desk.call("GET", "/mailboxes", desk.root, 200)["data"]]
    assert "helpdesk" not in names  # nothing half-saved
