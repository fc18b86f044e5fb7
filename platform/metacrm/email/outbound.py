"""Compose and queue an email from a record (`POST /api/v1/records/<entity>/<id>/messages`).

The sender must be able to read the record and to create `email_message` records. The
message is stored (status `queued`, its Message-ID carrying the record token, its
participants linked by address) and a work item for the `email.send` consumer is written in
the same transaction; the job sends it through the mailbox's SMTP server and marks it
`sent` or `failed` with the reason (`smtp_send`). A `template` (an `email_template` name,
the `language` asked for) gives the subject and text, rendered with the record's fields.
`attachments` names files of the record (e.g. its generated PDF) the sender may read; the
message keeps a copy of each (the same stored bytes) and the job sends them with it.
`on_queued` hooks run in the same transaction with the record the message is about (the
service desk stamps a ticket's first response there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.email import linking, record_token
from metacrm.email.mailboxes import ADDRESS, Mailbox, MailboxStore
from metacrm.email.templates import EmailTemplates
from metacrm.files.attachments import Attachment
from metacrm.files.service import FileService
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.services.records.service import RecordsService

CHANNEL = "email"
CONSUMER_NAME = "email.send"
EVENT_TYPE = "email.requested"
MESSAGE_ENTITY = "email_message"
FIELDS = frozenset({"channel", "mailbox", "to", "cc", "bcc", "subject", "body", "template",
                    "language", "attachments"})
MAX_RECIPIENTS = 50
MAX_BODY = 100_000
MAX_ATTACHMENTS = 10
MAX_ATTACHED_BYTES = 20 * 1024 * 1024
"""What one message may carry: the record's files, 20 MiB in all (most servers refuse more)."""


QueuedHook = Callable[[sa.Connection, str, str], None]
"""Called with the transaction, the entity and the id of the record a message is queued
from; raising refuses the send."""


class Submitter(Protocol):
    def submit(self, conn: sa.Connection, consumer: str, target: str, event: EventRecord
               ) -> str | None: ...

    def kick(self) -> None: ...


def _problem(message: str, pointer: str) -> ValidationFailed:
    return ValidationFailed(f"the message cannot be sent: {message}",
                            [ErrorDetail(message, pointer)])


def _addresses(body: Mapping[str, Any], key: str, *, required: bool = False) -> list[str]:
    value = body.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or (required and not value):
        raise _problem("a list of email addresses" + (" (at least one)" if required else ""),
                       f"/{key}")
    if len(value) > MAX_RECIPIENTS:
        raise _problem(f"at most {MAX_RECIPIENTS} addresses", f"/{key}")
    found: list[str] = []
    for index, address in enumerate(value):
        if not isinstance(address, str) or not ADDRESS.match(address.strip()):
            raise _problem("not an email address", f"/{key}/{index}")
        if address.strip().lower() not in found:
            found.append(address.strip().lower())
    return found


class OutboundEmail:
    def __init__(self, records: RecordsService, mailboxes: MailboxStore,
                 templates: EmailTemplates, submitter: Callable[[], Submitter],
                 secret: str, clock: Callable[[], datetime], files: FileService) -> None:
        self.records = records
        self.files = files
        self.mailboxes = mailboxes
        self.templates = templates
        self._submitter = submitter
        self.secret = secret
        self.clock = clock
        self.on_queued: list[QueuedHook] = []

    def _mailbox(self, name: Any) -> Mailbox:
        if name is None:
            sending = [box for box in self.mailboxes.all() if box.smtp_url]
            if not sending:
                raise _problem("no mailbox can send: an admin sets one up "
                               "(PUT /api/v1/mailboxes/<name> with an smtp_url)", "/mailbox")
            return sending[0]
        if not isinstance(name, str):
            raise _problem("a mailbox name", "/mailbox")
        mailbox = self.mailboxes.find(name)
        if mailbox is None or not mailbox.smtp_url:
            raise _problem(f"there is no mailbox {name!r} that can send", "/mailbox")
        return mailbox

    def send(self, subject: AccessSubject, entity: str, record_id: str,
             body: Mapping[str, Any]) -> dict[str, Any]:
        """Queue the message `body` asks for about the record; returns the stored message."""
        if not isinstance(body, Mapping):
            raise _problem("the body must be a JSON object", "")
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise _problem(f"unknown property {unknown[0]!r}", f"/{unknown[0]}")
        if body.get("channel", CHANNEL) != CHANNEL:
            raise _problem(f"unknown channel {body.get('channel')!r}; this CRM sends: email",
                           "/channel")
        record = self.records.get(subject, entity, record_id)  # NotFound outside the scope
        self.records.runtime().scoped(subject).require(MESSAGE_ENTITY, "create")
        to = _addresses(body, "to", required=True)
        cc = _addresses(body, "cc")
        bcc = _addresses(body, "bcc")
        title, text = self._content(subject, entity, record, body)
        attached = self._attachments(subject, entity, record_id, body.get("attachments", []))
        mailbox = self._mailbox(body.get("mailbox"))
        participants = linking.resolve(self.records, subject, (("to", to), ("cc", cc),
                                                                ("bcc", bcc)), frozenset())
        values = {
            "direction": "out", "status": "queued", "mailbox": mailbox.name,
            "subject": title, "body": text, "from_address": mailbox.address,
            "to_addresses": ", ".join(to), "cc_addresses": ", ".join(cc) or None,
            "bcc_addresses": ", ".join(bcc) or None,
            "message_id": record_token.message_id(self.secret, entity, record_id,
                                                  mailbox.domain),
            "regarding": {"entity": entity, "id": record_id}}
        submitter = self._submitter()
        with self.records.transaction() as conn:
            message = self.records.create_in(conn, subject, MESSAGE_ENTITY, values)
            message_id = str(message["id"])
            linking.add_participants(conn, self.records, subject, message_id, participants,
                                     None)
            for item in attached:  # the message keeps what it carried
                self.files.copy_to(conn, item, MESSAGE_ENTITY, message_id, subject.user_id)
            for hook in self.on_queued:
                hook(conn, entity, record_id)
            submitter.submit(conn, CONSUMER_NAME, f"{MESSAGE_ENTITY}/{message_id}", EventRecord(
                id=new_id(), type=EVENT_TYPE, entity=MESSAGE_ENTITY, record_id=message_id,
                created_at=self.clock(), payload={"mailbox": mailbox.name}))
        submitter.kick()
        return self.records.get(subject, MESSAGE_ENTITY, message_id)

    def _attachments(self, subject: AccessSubject, entity: str, record_id: str,
                     ids: Any) -> list[Attachment]:
        """The record's attachments to send, each one the sender may read."""
        if not isinstance(ids, list) or len(ids) > MAX_ATTACHMENTS:
            raise _problem(f"a list of at most {MAX_ATTACHMENTS} attachment ids of the "
                           "record", "/attachments")
        found: list[Attachment] = []
        for index, attachment_id in enumerate(ids):
            try:
                item = self.files.readable_attachment(subject, entity, record_id,
                                                      attachment_id)
            except NotFound:
                raise _problem("not an attachment of this record", f"/attachments/{index}"
                               ) from None
            if item.id not in {each.id for each in found}:
                found.append(item)
        if sum(item.size for item in found) > MAX_ATTACHED_BYTES:
            raise _problem(f"at most {MAX_ATTACHED_BYTES // (1024 * 1024)} MiB of attachments "
                           "in one message", "/attachments")
        return found

    def _content(self, subject: AccessSubject, entity: str, record: Mapping[str, Any],
                 body: Mapping[str, Any]) -> tuple[str, str]:
        if body.get("template") is not None:
            if body.get("body") is not None:
                raise _problem("give a body or a template, not both", "/template")
            language = body.get("language") or record.get("preferred_language") or "en"
            template = self.templates.find(subject, body["template"], str(language))
            rendered_title, rendered = self.templates.render(template, entity, record, subject,
                                                             self.clock())
            return str(body.get("subject") or rendered_title), rendered
        text: Any = body.get("body")
        title: Any = body.get("subject")
        if not isinstance(text, str) or not text.strip():
            raise _problem("a body (text) or a template is required", "/body")
        if len(text) > MAX_BODY:
            raise _problem(f"at most {MAX_BODY} characters", "/body")
        if not isinstance(title, str) or not title.strip():
            raise _problem("a subject is required", "/subject")
        return " ".join(title.split()), text
