"""Delivery status notifications (RFC 3464 bounces): which sent message failed, and why.

A DSN is a `multipart/report; report-type=delivery-status` message: a human-readable part,
a `message/delivery-status` part with one block per recipient (`Action: failed`,
`Status: 5.1.1`, `Diagnostic-Code: smtp; 550 5.1.1 <x@y>: user unknown`) and the
returned message or its headers (`message/rfc822` or `text/rfc822-headers`), whose
`Message-ID` names the message the CRM sent. Only `failed` actions count: `delayed`,
`delivered`, `relayed` and `expanded` reports (a `Bounce` with no `reason`) leave the
message as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser

MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class Bounce:
    original_message_id: str
    reason: str | None
    """Why delivery failed; None when the report is of no failure (a delay...)."""


def _returned_message_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        value = inner.get("Message-ID") if isinstance(inner, Message) else None
    else:  # text/rfc822-headers
        text = part.get_payload(decode=True)
        value = HeaderParser().parsestr(text.decode("utf-8", "replace")).get(
            "Message-ID") if isinstance(text, bytes) else None
    return str(value).strip() if value else None


def _failures(part: Message) -> list[str]:
    payload = part.get_payload()
    blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
    found: list[str] = []
    for block in blocks[1:]:  # the first block is about the reporting server
        if str(block.get("Action", "")).strip().lower() != "failed":
            continue
        recipient = str(block.get("Final-Recipient", "")).partition(";")[2].strip()
        status = str(block.get("Status", "")).strip()
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).partition(";")[2].split())
        found.append(" ".join(filter(None, (recipient + ":" if recipient else "", status,
                                            diagnostic))))
    return found


def bounce_of(raw: bytes) -> Bounce | None:
    """The failure `raw` reports, when it is a DSN about a message; else None."""
    message = message_from_bytes(raw, policy=policy.compat32)
    report_type = message.get_param("report-type")
    if message.get_content_type() != "multipart/report" or not isinstance(
            report_type, str) or report_type.lower() != "delivery-status":
        return None
    failures: list[str] = []
    original: str | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            failures += _failures(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _returned_message_id(part)
    if not original:
        return None
    return Bounce(original, "; ".join(failures)[:MAX_REASON] or None)
