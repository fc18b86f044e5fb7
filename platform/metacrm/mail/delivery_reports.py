"""Reading the reports mail servers send back (RFC 6522 `multipart/report`): delivery status
notifications (RFC 3464, `report-type=delivery-status`) and feedback reports (RFC 5965,
`report-type=feedback-report`).

One reader for both places that act on them: the email channel marks a message it sent as
failed (`metacrm.email.bounces`), and mass mailings suppress the address and count the
bounce or complaint (`metacrm.marketing.mailings.dsn`). They must agree on which recipient
blocks count as failures and which message a report is about.

A report's machine-readable parts are blocks of `Name: value` fields separated by blank
lines (the first block is about the reporting server, one block follows per recipient);
field names are returned lower-cased. The message the report is about is the returned
message (`message/rfc822`) or its headers (`text/rfc822-headers`), whose `Message-ID`
names the message sent. Pure standard library: no I/O.
"""

from __future__ import annotations

import re
from email.message import Message

HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")
DELIVERY_STATUS = "delivery-status"
FEEDBACK_REPORT = "feedback-report"


def report_type(message: Message) -> str | None:
    """`delivery-status`, `feedback-report`... (lower-cased) when `message` is a
    `multipart/report`; else None."""
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type")
    return value.lower() if isinstance(value, str) else ""


def field_blocks(text: str) -> list[dict[str, str]]:
    """Blocks of `Name: value` lines separated by blank lines (continuations joined with a
    space, names lower-cased)."""
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


def part_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of one report part (`message/delivery-status`, which the parser
    splits into header blocks, or a text part such as `text/rfc822-headers`)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        text = "\n\n".join(str(block).strip() for block in payload)
    else:
        raw = part.get_payload(decode=True)
        text = (raw.decode(part.get_content_charset() or "utf-8", "replace")
                if isinstance(raw, bytes) else str(payload))
    return field_blocks(text)


def returned_header(part: Message, name: str) -> str | None:
    """Header `name` of the message a `message/rfc822` part holds."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        value = inner[0].get(name)
        return str(value).strip() if value else None
    return None


def returned_message_id(report: Message) -> str | None:
    """The `Message-ID` of the message `report` is about: the first one found in its
    `text/rfc822-headers` or `message/rfc822` parts."""
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "text/rfc822-headers":
            for block in part_blocks(part):
                if block.get("message-id"):
                    return block["message-id"]
        elif kind == "message/rfc822":
            found = returned_header(part, "Message-ID")
            if found:
                return found
    return None


def failed_recipients(report: Message) -> list[dict[str, str]]:
    """The per-recipient blocks of a delivery status notification whose `Action` is
    `failed` — the server gave up; `delayed`, `delivered`, `relayed` and `expanded` do not
    count."""
    return [block for part in report.walk()
            if part.get_content_type() == "message/delivery-status"
            for block in part_blocks(part)
            if block.get("action", "").lower() == "failed"]
