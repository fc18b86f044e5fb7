"""Email to ticket: what the intake does with mail about tickets.

* A **new message** to a support mailbox (`create_tickets`) — one threaded on no record by
  In-Reply-To/References or a record token — from someone outside the mailbox's own domain
  becomes a `ticket`: its subject and text, `channel` email, the mailbox's `ticket_queue`,
  the sender as `customer_email` and `customer_person` (the person having that address,
  else a new one made from the sender's name) with that person's company.
* A **reply** threaded on a ticket (in any mailbox) from outside the mailbox's domain is the
  customer's: the service desk's `CustomerReplies` seam moves the ticket (a resolved one is
  reopened through the pipeline, so the SLA clocks stay right). A reply to a *closed*
  ticket, in a support mailbox, opens a new ticket instead — a closed ticket stays closed.

The ticket pipeline and its clocks belong to the service desk; this module only writes the
records, as the intake's subject, in the intake's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.email.linking import Contact, Participant
from metacrm.email.mailboxes import Mailbox
from metacrm.email.mime import ParsedMail
from metacrm.kernel.errors import Forbidden, NotFound
from metacrm.services.records.service import RecordsService

TICKET_ENTITY = "ticket"
PERSON_ENTITY = "person"
CLOSED_STATE = "closed"
MAX_SUBJECT = 200
MAX_TEXT = 100_000
NO_SUBJECT = "(no subject)"


class TicketReplies(Protocol):
    """The service desk's seam for a customer's reply (`services.ticket_replies`)."""

    def received(self, ticket_id: str) -> str | None: ...


def ticket_of(regarding: Mapping[str, str] | None) -> str | None:
    """The ticket id when `regarding` names a ticket."""
    if regarding is not None and regarding.get("entity") == TICKET_ENTITY:
        return str(regarding["id"])
    return None


def is_closed(records: RecordsService, subject: AccessSubject, ticket_id: str) -> bool:
    try:
        ticket = records.get(subject, TICKET_ENTITY, ticket_id)
    except (NotFound, Forbidden):
        return False
    return ticket.get("status") == CLOSED_STATE


def from_outside(mailbox: Mailbox, sender: Participant | None) -> bool:
    """Whether the sender is a customer rather than a colleague at the mailbox's domain."""
    return sender is not None and sender.address.rpartition("@")[2] != mailbox.domain


def makes_tickets(records: RecordsService, mailbox: Mailbox) -> bool:
    """Whether `mailbox` turns new mail into tickets (and the model has tickets)."""
    return mailbox.create_tickets and TICKET_ENTITY in records.runtime().model.entities


def _customer(conn: sa.Connection, records: RecordsService, subject: AccessSubject,
              mailbox: Mailbox, mail: ParsedMail, sender: Participant
              ) -> tuple[str, str | None]:
    """The sender's person (found, else created) and that person's company."""
    for contact in sender.contacts:
        if contact.entity == PERSON_ENTITY:
            person = records.get(subject, PERSON_ENTITY, contact.id)
            company = person.get("company")
            return contact.id, str(company) if company else None
    name = mail.sender_name or mail.sender.partition("@")[0]
    first, _, last = name.rpartition(" ")
    values: dict[str, Any] = {"last_name": (last or name)[:100], "email": mail.sender}
    if first:
        values["first_name"] = first[:100]
    if mailbox.owner:
        values["owner"] = mailbox.owner
    return str(records.create_in(conn, subject, PERSON_ENTITY, values)["id"]), None


def open_ticket(conn: sa.Connection, records: RecordsService, subject: AccessSubject,
                mailbox: Mailbox, mail: ParsedMail, sender: Participant
                ) -> tuple[str, Participant]:
    """Create the ticket of a new message; returns its id and the sender linked to the
    customer person (so the message shows on the person's timeline)."""
    person_id, company_id = _customer(conn, records, subject, mailbox, mail, sender)
    title = " ".join(mail.subject.split())[:MAX_SUBJECT] or NO_SUBJECT
    values: dict[str, Any] = {
        "subject": title, "description": mail.text[:MAX_TEXT] or None, "channel": "email",
        "customer_person": person_id, "customer_email": mail.sender}
    if company_id:
        values["customer_company"] = company_id
    if mailbox.ticket_queue:
        values["queue"] = mailbox.ticket_queue
    if mailbox.owner:
        values["owner"] = mailbox.owner
    ticket_id = str(records.create_in(conn, subject, TICKET_ENTITY, values)["id"])
    contacts = sender.contacts
    if not any(c.entity == PERSON_ENTITY and c.id == person_id for c in contacts):
        contacts = (Contact(PERSON_ENTITY, person_id), *contacts)
    return ticket_id, Participant(sender.role, sender.address, contacts)
