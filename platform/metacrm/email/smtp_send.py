"""The `email.send` consumer: sends a queued `email_message` through its mailbox's SMTP
server and marks it `sent`, or `failed` with the server's answer (shown on the message).

The MIME message carries the stored Message-ID (with the record token), so a reply's
In-Reply-To finds the thread. A message not `queued` any more (sent by an earlier attempt)
is not sent again. Refusals are final (the reason is on the message); an unreachable
server is retried twice, then the message is marked failed.

**Rate limit.** A mailbox with `send_per_minute` N sends at most one message every 60/N
seconds, across every worker: each send first claims the mailbox's slot (one atomic
UPDATE, `claim_period`); a message that finds the slot taken stays `queued` and its work
item is retried when the slot frees (mass sends drain at the mailbox's pace instead of
tripping the provider's limits).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.email.intake import mailbox_subject
from metacrm.email.mailboxes import Mailbox, MailboxStore
from metacrm.email.outbound import CONSUMER_NAME, MESSAGE_ENTITY
from metacrm.files.attachments import Attachment
from metacrm.files.service import FileService
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.jobs import EventRecord, GiveUp, RetryLater, WorkItem
from metacrm.mail.smtp import TIMEOUT_SECONDS, parse_smtp_url
from metacrm.services.records.service import RecordsService

RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=5))
SlotClaim = Callable[[str, datetime, timedelta], bool]
"""(slot name, now, spacing) -> whether this send may go now (`claim_period`)."""


def _no_limit(_name: str, _now: datetime, _every: timedelta) -> bool:
    return True


def _split(value: Any) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def mime_message(message: Mapping[str, Any], mailbox: Mailbox,
                 files: Sequence[tuple[Attachment, bytes]] = ()) -> EmailMessage:
    email = EmailMessage()
    email["From"] = formataddr(("", mailbox.address))
    email["To"] = ", ".join(_split(message.get("to_addresses")))
    if _split(message.get("cc_addresses")):
        email["Cc"] = ", ".join(_split(message.get("cc_addresses")))
    email["Subject"] = str(message.get("subject") or "")
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = str(message["message_id"])
    email.set_content(str(message.get("body") or ""))
    for item, content in files:
        maintype, _slash, subtype = item.content_type.partition("/")
        email.add_attachment(content, maintype=maintype or "application",
                             subtype=subtype or "octet-stream", filename=item.name)
    return email


def deliver(mailbox: Mailbox, email: EmailMessage, recipients: Sequence[str]) -> None:
    """Send over the mailbox's SMTP server; smtplib/OS errors propagate."""
    server = parse_smtp_url(mailbox.smtp_url or "")
    password = mailbox.secret("smtp_password")
    smtp: smtplib.SMTP
    if server.implicit_tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    with smtp:
        if server.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if server.username:
            smtp.login(server.username, password or "")
        smtp.send_message(email, from_addr=mailbox.address, to_addrs=list(recipients))


class EmailSendConsumer:
    name = CONSUMER_NAME

    def __init__(self, records: RecordsService, mailboxes: Callable[[], MailboxStore],
                 clock: Callable[[], datetime], files: FileService,
                 claim: SlotClaim = _no_limit) -> None:
        self.records = records
        self.files = files
        self.claim = claim
        self._mailboxes = mailboxes
        self.clock = clock

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ()

    def _mark(self, subject: AccessSubject, record_id: str, changes: Mapping[str, Any]) -> None:
        self.records.update(subject, MESSAGE_ENTITY, record_id, dict(changes))

    def handle(self, item: WorkItem) -> None:
        event = item.event
        mailbox_name = event.payload.get("mailbox")
        if not isinstance(mailbox_name, str):
            raise GiveUp("the request names no mailbox")
        subject = mailbox_subject(self.records, mailbox_name)
        try:
            message = self.records.get(subject, MESSAGE_ENTITY, event.record_id)
        except MetacrmError as exc:
            raise GiveUp(str(exc)) from None
        if message.get("status") != "queued":
            return
        mailbox = self._mailboxes().find(mailbox_name)
        if mailbox is None or not mailbox.smtp_url:
            self._mark(subject, event.record_id, {
                "status": "failed", "error": f"the mailbox {mailbox_name} cannot send"})
            raise GiveUp(f"no mailbox {mailbox_name} with an SMTP server")
        if mailbox.send_per_minute:
            spacing = timedelta(seconds=60 / mailbox.send_per_minute)
            if not self.claim(f"email.send:{mailbox.name}", self.clock(), spacing):
                raise RetryLater(f"mailbox {mailbox.name} sends at most "
                                 f"{mailbox.send_per_minute} a minute", spacing)
        recipients = [*_split(message.get("to_addresses")), *_split(message.get("cc_addresses")),
                      *_split(message.get("bcc_addresses"))]
        try:
            deliver(mailbox, mime_message(message, mailbox, self._files(subject, message)),
                    recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            self._fail(subject, event.record_id, f"recipients refused: {exc.recipients}")
        except smtplib.SMTPResponseException as exc:
            reason = exc.smtp_error.decode("utf-8", "replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            self._fail(subject, event.record_id, f"{exc.smtp_code} {reason}")
        except (smtplib.SMTPException, OSError) as exc:
            if item.attempt > len(RETRY_DELAYS):
                self._fail(subject, event.record_id, f"{type(exc).__name__}: {exc}")
            raise  # retried after RETRY_DELAYS
        else:
            self._mark(subject, event.record_id, {"status": "sent", "error": None,
                                                  "sent_at": self.clock().isoformat()})

    def _files(self, subject: AccessSubject, message: Mapping[str, Any]
               ) -> list[tuple[Attachment, bytes]]:
        """The message's attachments with their bytes (what the sender chose to send)."""
        found = []
        for item in self.files.list(subject, MESSAGE_ENTITY, str(message["id"])):
            _item, chunks = self.files.open(subject, MESSAGE_ENTITY, item.record_id, item.id)
            found.append((item, b"".join(chunks)))
        return found

    def _fail(self, subject: AccessSubject, record_id: str, reason: str) -> None:
        self._mark(subject, record_id, {"status": "failed", "error": reason[:2000]})
        raise GiveUp(reason)

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return RETRY_DELAYS[index] if index < len(RETRY_DELAYS) else None
