"""What a message in the bounce mailbox says: a delivery failure (RFC 3464 DSN), a
complaint (RFC 5965 ARF feedback report), a `mailto:` unsubscribe (the second target of
`List-Unsubscribe`), or nothing we act on.

Only reports of final failure count as bounces: a DSN recipient block with
`Action: failed` (a `delayed` report is the server still trying). Both hard (5.x.x) and
final soft failures suppress the address — a server that gave up is not told to try
again by the next mailing. The original message's Message-ID is read from the report's
`text/rfc822-headers` or `message/rfc822` part, so the bounce is also recorded on the
recipient row it answers. Anything else (an out-of-office reply, spam) is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from typing import Literal

Kind = Literal["bounce", "complaint", "unsubscribe"]
UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe\s+(\S+)\s*$", re.IGNORECASE)
ADDRESS = re.compile(r"[^@\s<>;]+@[^@\s<>;]+")
HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")


@dataclass(frozen=True)
class MailFeedback:
    kind: Kind
    recipients: tuple[str, ...] = ()
    original_message_id: str | None = None
    status: str | None = None
    token: str | None = None


def _address(value: str | None) -> str | None:
    """`rfc822; a@b.c` → `a@b.c` (lower-cased)."""
    if not value:
        return None
    found = ADDRESS.search(value.partition(";")[2] or value)
    return found.group(0).lower() if found else None


def _fields(text: str) -> list[dict[str, str]]:
    """Blocks of `Name: value` lines separated by blank lines (continuations joined)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        match = HEADER_LINE.match(line)
        if match:
            last = match.group(1).lower()
            current[last] = match.group(2).strip()
    if current:
        blocks.append(current)
    return blocks


def _part_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/delivery-status: parsed as header blocks
        return "\n\n".join(str(block).strip() for block in payload)
    raw = part.get_payload(decode=True)
    if isinstance(raw, bytes):
        return raw.decode(part.get_content_charset() or "utf-8", "replace")
    return str(payload)


def _inner_header(part: Message, name: str) -> str | None:
    """Header `name` of the message a `message/rfc822` part holds."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        value = inner[0].get(name)
        return str(value).strip() if value else None
    return None


def _original_message_id(report: Message) -> str | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "text/rfc822-headers":
            for block in _fields(_part_text(part)):
                if "message-id" in block:
                    return block["message-id"]
        if kind == "message/rfc822":
            found = _inner_header(part, "Message-ID")
            if found:
                return found
    return None


def _dsn(report: Message) -> MailFeedback | None:
    recipients: list[str] = []
    status = None
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _fields(_part_text(part)):
            if block.get("action", "").lower() != "failed":
                continue
            address = _address(block.get("final-recipient") or block.get("original-recipient"))
            if address and address not in recipients:
                recipients.append(address)
                status = status or block.get("status", "").split(" ")[0] or None
    if not recipients:
        return None
    return MailFeedback("bounce", tuple(recipients), _original_message_id(report), status)


def _arf(report: Message) -> MailFeedback | None:
    for part in report.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields: dict[str, str] = {}
        for block in _fields(_part_text(part)):
            fields.update(block)
        address = _address(fields.get("original-rcpt-to"))
        original = _original_message_id(report)
        if address is None:
            for inner in report.walk():
                if inner.get_content_type() == "message/rfc822":
                    address = address or _address(_inner_header(inner, "To"))
        return MailFeedback("complaint", (address,) if address else (), original,
                            fields.get("feedback-type"))
    return None


def read_feedback(raw: bytes) -> MailFeedback | None:
    """What `raw` (a whole message from the bounce mailbox) reports, or None."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() == "multipart/report":
        report_type = (message.get_param("report-type") or "")
        report_type = report_type.lower() if isinstance(report_type, str) else ""
        if report_type == "delivery-status":
            return _dsn(message)
        if report_type == "feedback-report":
            return _arf(message)
        return None
    subject = UNSUBSCRIBE_SUBJECT.match(str(message.get("Subject") or ""))
    if subject:
        sender = _address(str(message.get("From") or ""))
        return MailFeedback("unsubscribe", (sender,) if sender else (), None, None,
                            subject.group(1))
    return None
