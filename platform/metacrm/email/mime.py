"""Read a raw RFC 5322 message into what the intake stores (`ParsedMail`).

Only what threading, linking and the timeline need: Message-ID, In-Reply-To and
References, the addresses (lower-cased, without display names), the display name of the
sender, the subject, the text (the plain part, else the HTML part's text) and the
attachments. A message without a Message-ID gets one from the SHA-256 of its bytes, so the
same message read twice is still recognised.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

MAX_HEADER = 998
TAGS = re.compile(r"<[^>]+>")


class NotAMessage(ValueError):
    """The bytes are not an email message."""


@dataclass(frozen=True, slots=True)
class MailAttachment:
    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str
    in_reply_to: str
    references: str
    sender: str
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    text: str
    sent_at: datetime | None
    attachments: tuple[MailAttachment, ...]

    @property
    def thread_headers(self) -> str:
        """In-Reply-To and References together, for finding the thread."""
        return f"{self.references} {self.in_reply_to}".strip()


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())[:MAX_HEADER]


def addresses(message: EmailMessage, header: str) -> tuple[str, ...]:
    """The addresses of `header` (all its occurrences), lower-cased, without duplicates."""
    found: list[str] = []
    for _name, address in getaddresses([str(v) for v in message.get_all(header, [])]):
        address = address.strip().lower()
        if "@" in address and address not in found:
            found.append(address)
    return tuple(found)


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except (LookupError, ValueError):
        return ""
    if part.get_content_type() == "text/html":
        content = TAGS.sub(" ", content)
    return content.replace("\r\n", "\n").strip()


def _attachments(message: EmailMessage) -> tuple[MailAttachment, ...]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found.append(MailAttachment(part.get_filename() or "attachment", payload))
    return tuple(found)


def _date(message: EmailMessage) -> datetime | None:
    try:
        moment = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def parse_mail(raw: bytes) -> ParsedMail:
    """The message in `raw`; NotAMessage when it has no sender."""
    message = message_from_bytes(raw, policy=policy.default)
    if not isinstance(message, EmailMessage):
        raise NotAMessage("not an email message")
    senders = addresses(message, "From")
    if not senders:
        raise NotAMessage("the message has no From address")
    names = getaddresses([str(v) for v in message.get_all("From", [])])
    message_id = _one_line(message["Message-ID"]) or (
        f"<{hashlib.sha256(raw).hexdigest()}@metacrm.invalid>")
    return ParsedMail(
        message_id=message_id, in_reply_to=_one_line(message["In-Reply-To"]),
        references=" ".join(str(message["References"] or "").split()),
        sender=senders[0], sender_name=_one_line(names[0][0] if names else ""),
        to=addresses(message, "To"), cc=addresses(message, "Cc"),
        subject=_one_line(message["Subject"]), text=_text(message), sent_at=_date(message),
        attachments=_attachments(message))
