"""Email as a registered channel provider (`ChannelProvider` and `ReportsDelivery`).

* `send`: a plain message to one address through the first mailbox that can send (its
  SMTP server); the subject is the text's first line. Messages about a record go through
  `OutboundEmail` instead (the record sender of `email`), which stores them, threads them
  and queues them with the mailbox's rate limit.
* `parse_inbound`: `{"raw": <RFC 5322 bytes>}` -> the sender and text (what the intake
  stores; the intake itself is reached through the polled mailboxes and the signed
  inbound route).
* `delivery_status`: `{"raw": <a DSN>}` -> `failed` with the reasons (`bounces`), naming
  the Message-ID of the message that bounced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from metacrm.email.bounces import bounce_of
from metacrm.email.mailboxes import MailboxStore
from metacrm.email.mime import parse_mail
from metacrm.email.smtp_send import deliver
from metacrm.extension.channels import (
    DeliveryReceipt,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
)

CHANNEL = "email"
MAX_SUBJECT = 78


class EmailProvider:
    def __init__(self, mailboxes: MailboxStore) -> None:
        self.mailboxes = mailboxes

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        mailbox = next((box for box in self.mailboxes.all() if box.smtp_url), None)
        if mailbox is None:
            raise LookupError("no mailbox can send: an admin sets one up")
        email = EmailMessage()
        email["From"] = mailbox.address
        email["To"] = message.recipient
        email["Subject"] = (message.text.strip().splitlines() or [""])[0][:MAX_SUBJECT]
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = make_msgid(domain=mailbox.domain)
        email.set_content(message.text)
        deliver(mailbox, email, [message.recipient])
        return DeliveryReceipt(CHANNEL, str(email["Message-ID"]), {"mailbox": mailbox.name})

    def parse_inbound(self, payload: Mapping[str, Any]) -> Sequence[InboundMessage]:
        raw = payload.get("raw")
        if not isinstance(raw, bytes):
            return []
        try:
            mail = parse_mail(raw)
        except ValueError:
            return []
        return [InboundMessage(CHANNEL, mail.sender, mail.text, mail.sender_name or None,
                               {"message_id": mail.message_id, "subject": mail.subject})]

    def delivery_status(self, payload: Mapping[str, Any]) -> DeliveryStatus | None:
        raw = payload.get("raw")
        bounce = bounce_of(raw) if isinstance(raw, bytes) else None
        if bounce is None or bounce.reason is None:
            return None
        return DeliveryStatus(CHANNEL, bounce.original_message_id, "failed", bounce.reason)
