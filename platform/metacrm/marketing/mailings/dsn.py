"""What a message in the bounce mailbox says: a delivery failure (RFC 3464 DSN), a
complaint (RFC 5965 ARF feedback report), a `mailto:` unsubscribe (the second target of
`List-Unsubscribe`), or nothing we act on.

Only reports of final failure count as bounces: a DSN recipient block with
`Action: failed` (a `delayed` report is the server still trying). Both hard (5.x.x) and
final soft failures suppress the address — a server that gave up is not told to try
again by the next mailing. The original message's Message-ID is read from the report's
`text/rfc822-headers` or `message/rfc822` part, so the bounce is also recorded on the
recipient row it answers (the reports are read by `metacrm.mail.delivery_reports`, as
the email channel reads its bounces). Anything else (an out-of-office reply, spam) is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from typing import Literal

from metacrm.mail.delivery_reports import (
    DELIVERY_STATUS,
    FEEDBACK_REPORT,
    failed_recipients,
    part_blocks,
    report_type,
    returned_header,
    returned_message_id,
)

Kind = Literal["bounce", "complaint", "unsubscribe"]
UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe\s+(\S+)\s*$", re.IGNORECASE)
ADDRESS = re.compile(r"[^@\s<>;]+@[^@\s<>;]+")


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


def _dsn(report: Message) -> MailFeedback | None:
    recipients: list[str] = []
    status = None
    for block in failed_recipients(report):
        address = _address(block.get("final-recipient") or block.get("original-recipient"))
        if address and address not in recipients:
            recipients.append(address)
            status = status or block.get("status", "").split(" ")[0] or None
    if not recipients:
        return None
    return MailFeedback("bounce", tuple(recipients), returned_message_id(report), status)


def _arf(report: Message) -> MailFeedback | None:
    for part in report.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields: dict[str, str] = {}
        for block in part_blocks(part):
            fields.update(block)
        address = _address(fields.get("original-rcpt-to"))
        original = returned_message_id(report)
        if address is None:
            for inner in report.walk():
                if inner.get_content_type() == "message/rfc822":
                    address = address or _address(returned_header(inner, "To"))
        return MailFeedback("complaint", (address,) if address else (), original,
                            fields.get("feedback-type"))
    return None


def read_feedback(raw: bytes) -> MailFeedback | None:
    """What `raw` (a whole message from the bounce mailbox) reports, or None."""
    message = message_from_bytes(raw, policy=policy.compat32)
    kind = report_type(message)
    if kind is not None:
        if kind == DELIVERY_STATUS:
            return _dsn(message)
        if kind == FEEDBACK_REPORT:
            return _arf(message)
        return None
    subject = UNSUBSCRIBE_SUBJECT.match(str(message.get("Subject") or ""))
    if subject:
        sender = _address(str(message.get("From") or ""))
        return MailFeedback("unsubscribe", (sender,) if sender else (), None, None,
                            subject.group(1))
    return None
