"""Store one inbound message: deduplicated, threaded, linked, a lead when it should be.

* **Once**: a message whose Message-ID is stored already is not stored again (the
  `message_id` field is unique, so two pollers racing still store it once).
* **Thread** (the record it is about), first found wins — as EspoCRM's parent finder:
  the record of a stored message named in In-Reply-To/References; the record of a signed
  record token there (`record_token`); else the sender's contact.
* **Participants**: each address but the mailbox's own becomes an `email_participant`,
  linked to the people, companies and leads having it — the message shows on their
  timelines. Only the sender can make a lead: when nothing above matched, the sender is
  no known contact nor at the mailbox's own domain (a colleague) and the mailbox has
  `create_leads`. A colleague in Cc of a reply creates nothing.
* **Tickets** (`tickets`): a support mailbox (`create_tickets`) makes a ticket of a new
  message (before any lead or contact thread); a customer's reply threaded on a ticket goes
  to the service desk's `ticket_replies` seam after the message is stored (a resolved
  ticket reopens).
* **Attachments** are kept as the message's attachments (the files module).
* **Bounces** (a delivery status notification about a message the CRM sent, `bounces`)
  are not stored as mail: the sent message becomes `failed` with the reasons (a report of
  a mere delay changes nothing), and the mailer daemon never becomes a lead.

The intake acts as the model's admin roles under the name `mailbox:<name>`; the records it
creates belong to the mailbox's `owner` when it has one.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.email import linking, record_token, tickets
from metacrm.email.bounces import bounce_of
from metacrm.email.mailboxes import Mailbox
from metacrm.email.mime import ParsedMail, parse_mail
from metacrm.files.service import FileService
from metacrm.kernel.errors import Conflict, ErrorDetail, Forbidden, NotFound, ValidationFailed
from metacrm.services.records.service import RecordsService

log = logging.getLogger(__name__)
MESSAGE_ENTITY = "email_message"
LEAD_ENTITY = "lead"
MAX_TEXT = 100_000


@dataclass(frozen=True)
class Received:
    """What became of one message."""

    message_id: str
    record_id: str
    duplicate: bool
    regarding: Mapping[str, str] | None = None
    lead_id: str | None = None
    report: bool = False
    """The message is a delivery report (a bounce, a complaint): about the sent message
    `record_id`, or taken by a report reader (`record_id` empty) rather than stored."""
    ticket_id: str | None = None
    """The ticket this message opened."""
    ticket_move: str | None = None
    """The transition a customer's reply made on its ticket (e.g. `reopen`)."""


ReportReader = Callable[[bytes], bool]
"""Acts on a message that is a report to the CRM rather than mail to a person (a bounce
of a mass mailing: `metacrm.marketing.mailings`) and answers True, so it is not stored;
False for ordinary mail. Registered in `EmailIntake.report_readers` at install."""


def mailbox_subject(records: RecordsService, mailbox: str) -> AccessSubject:
    """Whom the intake of `mailbox` acts as."""
    model = records.runtime().model
    roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
    if not roles:
        raise Forbidden("the intake acts with an admin role, and the metadata has none",
                        [ErrorDetail("add a role with \"admin\": true", "")])
    actor = f"mailbox:{mailbox}"
    return AccessSubject(user_id=actor, username=actor, roles=roles, is_admin=True)


class EmailIntake:
    def __init__(self, records: RecordsService, files: FileService, secret: str,
                 clock: Callable[[], datetime],
                 ticket_replies: Callable[[], tickets.TicketReplies | None] = lambda: None
                 ) -> None:
        self.records = records
        self.files = files
        self.secret = secret
        self.clock = clock
        self.ticket_replies = ticket_replies
        self.report_readers: list[ReportReader] = []

    def receive(self, mailbox: Mailbox, raw: bytes) -> Received:
        """Store the message in `raw` (ValidationFailed when it is none), unless a report
        reader takes it."""
        try:
            mail = parse_mail(raw)
        except ValueError as exc:
            raise ValidationFailed("not an email message", [ErrorDetail(str(exc), "")]) from None
        if any(reader(raw) for reader in self.report_readers):
            return Received(mail.message_id, "", duplicate=False, report=True)
        subject = mailbox_subject(self.records, mailbox.name)
        bounced = self._bounce(subject, mail.message_id, raw)
        if bounced is not None:
            return bounced
        stored = self._stored(subject, mail.message_id)
        if stored is not None:
            return Received(mail.message_id, stored, duplicate=True)
        regarding = self._thread(subject, mail)
        participants = linking.resolve(
            self.records, subject, (("from", (mail.sender,)), ("to", mail.to),
                                    ("cc", mail.cc)), frozenset({mailbox.address}))
        sender = participants[0] if participants and participants[0].role == "from" else None
        lead_id = ticket_id = None
        replied = tickets.ticket_of(regarding)
        support = tickets.makes_tickets(self.records, mailbox)
        if support and replied is not None and tickets.is_closed(self.records, subject,
                                                                 replied):
            regarding = replied = None  # a closed ticket stays closed: a new one opens
        new_ticket = support and regarding is None and tickets.from_outside(mailbox, sender)
        if regarding is None and not new_ticket and sender is not None and sender.contacts:
            first = sender.contacts[0]
            regarding = {"entity": first.entity, "id": first.id}
        try:
            with self.records.transaction() as conn:
                if new_ticket and sender is not None:
                    ticket_id, sender = tickets.open_ticket(conn, self.records, subject,
                                                            mailbox, mail, sender)
                    regarding = {"entity": tickets.TICKET_ENTITY, "id": ticket_id}
                    participants = [sender, *participants[1:]]
                elif (regarding is None and sender is not None and mailbox.create_leads
                        and sender.address.rpartition("@")[2] != mailbox.domain):
                    lead_id = self._lead(conn, subject, mailbox, mail)
                    regarding = {"entity": LEAD_ENTITY, "id": lead_id}
                    sender = linking.Participant(sender.role, sender.address, (
                        linking.Contact(LEAD_ENTITY, lead_id),))
                    participants = [sender, *participants[1:]]
                record_id = self._message(conn, subject, mailbox, mail, regarding)
                linking.add_participants(conn, self.records, subject, record_id,
                                         participants, mailbox.owner)
        except Conflict:  # stored meanwhile by another poller (the unique Message-ID)
            stored = self._stored(subject, mail.message_id)
            if stored is None:
                raise
            return Received(mail.message_id, stored, duplicate=True)
        for attachment in mail.attachments:
            try:
                self.files.upload(subject, MESSAGE_ENTITY, record_id,
                                  io.BytesIO(attachment.content), attachment.name)
            except ValidationFailed as exc:  # too big, a refused type: the message stays
                log.warning("attachment %r of %s not kept: %s", attachment.name,
                            mail.message_id, exc)
        move = None
        if replied is not None and tickets.from_outside(mailbox, sender):
            move = self._customer_replied(replied, mail.message_id)
        return Received(mail.message_id, record_id, duplicate=False, regarding=regarding,
                        lead_id=lead_id, ticket_id=ticket_id, ticket_move=move)

    def _customer_replied(self, ticket_id: str, message_id: str) -> str | None:
        """Tell the service desk (when installed) that the customer wrote on the ticket;
        the message is stored whatever it answers."""
        replies = self.ticket_replies()
        if replies is None:
            return None
        try:
            return replies.received(ticket_id)
        except (NotFound, Forbidden, Conflict, ValidationFailed) as exc:
            log.warning("ticket %s not moved on the reply %s: %s", ticket_id, message_id, exc)
            return None

    def _bounce(self, subject: AccessSubject, message_id: str, raw: bytes
                ) -> Received | None:
        """Mark the sent message a DSN reports as failed; None when `raw` is no bounce of
        a message the CRM sent."""
        bounce = bounce_of(raw)
        if bounce is None:
            return None
        page = self.records.list(subject, MESSAGE_ENTITY, criteria={"and": [
            {"field": "message_id", "op": "eq", "value": bounce.original_message_id},
            {"field": "direction", "op": "eq", "value": "out"}]}, limit=1,
            fields=["id", "regarding"])
        if not page.records:
            return None
        sent = page.records[0]
        if bounce.reason is not None:
            self.records.update(subject, MESSAGE_ENTITY, str(sent["id"]), {
                "status": "failed", "error": f"Bounced: {bounce.reason}"[:2000]})
        regarding = sent.get("regarding")
        return Received(message_id, str(sent["id"]), duplicate=False, report=True,
                        regarding=dict(regarding) if isinstance(regarding, Mapping) else None)

    def _stored(self, subject: AccessSubject, message_id: str) -> str | None:
        page = self.records.list(subject, MESSAGE_ENTITY, criteria={
            "field": "message_id", "op": "eq", "value": message_id}, limit=1, fields=["id"])
        return str(page.records[0]["id"]) if page.records else None

    def _regarding_of(self, subject: AccessSubject, message_ids: list[str]
                      ) -> dict[str, str] | None:
        if not message_ids:
            return None
        page = self.records.list(subject, MESSAGE_ENTITY, criteria={
            "field": "message_id", "op": "in", "value": message_ids[:50]},
            limit=50, fields=["id", "message_id", "regarding"])
        by_id = {row["message_id"]: row.get("regarding") for row in page.records}
        for message_id in message_ids:  # the nearest reference first
            regarding = by_id.get(message_id)
            if isinstance(regarding, Mapping) and regarding.get("id"):
                return {"entity": str(regarding["entity"]), "id": str(regarding["id"])}
        return None

    def _thread(self, subject: AccessSubject, mail: ParsedMail) -> dict[str, str] | None:
        referenced = [mail.in_reply_to] if mail.in_reply_to else []
        referenced += [ref for ref in reversed(mail.references.split()) if ref not in referenced]
        found = self._regarding_of(subject, referenced)
        if found is not None:
            return found
        for entity, record_id in record_token.records_in(self.secret, mail.thread_headers):
            try:
                self.records.get(subject, entity, record_id)
            except (NotFound, Forbidden):
                continue
            return {"entity": entity, "id": record_id}
        return None

    def _lead(self, conn: sa.Connection, subject: AccessSubject, mailbox: Mailbox,
              mail: ParsedMail) -> str:
        name = mail.sender_name or mail.sender.partition("@")[0]
        first, _, last = name.rpartition(" ")
        values: dict[str, Any] = {"last_name": last or name, "email": mail.sender}
        if first:
            values["first_name"] = first
        if mailbox.lead_source:
            values["source"] = mailbox.lead_source
        if mailbox.owner:
            values["owner"] = mailbox.owner
        return str(self.records.create_in(conn, subject, LEAD_ENTITY, values)["id"])

    def _message(self, conn: sa.Connection, subject: AccessSubject, mailbox: Mailbox,
                 mail: ParsedMail, regarding: Mapping[str, str] | None) -> str:
        values: dict[str, Any] = {
            "direction": "in", "status": "received", "mailbox": mailbox.name,
            "subject": mail.subject, "body": mail.text[:MAX_TEXT],
            "from_address": mail.sender, "to_addresses": ", ".join(mail.to),
            "cc_addresses": ", ".join(mail.cc), "message_id": mail.message_id,
            "in_reply_to": mail.in_reply_to or None,
            "thread_references": mail.references or None,
            "sent_at": (mail.sent_at or self.clock()).isoformat(),
            "regarding": dict(regarding) if regarding else None}
        if mailbox.owner:
            values["owner"] = mailbox.owner
        return str(self.records.create_in(conn, subject, MESSAGE_ENTITY, values)["id"])
