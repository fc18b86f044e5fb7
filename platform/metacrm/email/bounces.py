"""Delivery status notifications (RFC 3464 bounces): which sent message failed, and why.

A DSN is a `multipart/report; report-type=delivery-status` message: a human-readable part,
a `message/delivery-status` part with one block per recipient (`Action: failed`,
`Status: 5.1.1`, `Diagnostic-Code: smtp; 550 5.1.1 <x@y>: user unknown`) and the
returned message or its headers (`message/rfc822` or `text/rfc822-headers`), whose
`Message-ID` names the message the CRM sent. Only `failed` actions count: `delayed`,
`delivered`, `relayed` and `expanded` reports (a `Bounce` with no `reason`) leave the
message as it is. The report is read by `metacrm.mail.delivery_reports`, as mass
mailings read theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy

from metacrm.mail.delivery_reports import (
    DELIVERY_STATUS,
    failed_recipients,
    report_type,
    returned_message_id,
)

MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class Bounce:
    original_message_id: str
    reason: str | None
    """Why delivery failed; None when the report is of no failure (a delay...)."""


def _failure(block: Mapping[str, str]) -> str:
    """`a@b.c: 5.1.1 550 5.1.1 <a@b.c>: user unknown` of one failed recipient block."""
    recipient = block.get("final-recipient", "").partition(";")[2].strip()
    status = block.get("status", "").strip()
    diagnostic = " ".join(block.get("diagnostic-code", "").partition(";")[2].split())
    return " ".join(filter(None, (recipient + ":" if recipient else "", status, diagnostic)))


def bounce_of(raw: bytes) -> Bounce | None:
    """The failure `raw` reports, when it is a DSN about a message; else None."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if report_type(message) != DELIVERY_STATUS:
        return None
    original = returned_message_id(message)
    if not original:
        return None
    failures = [_failure(block) for block in failed_recipients(message)]
    return Bounce(original, "; ".join(failures)[:MAX_REASON] or None)
