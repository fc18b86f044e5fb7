"""What every `MailChannel` adapter accepts and how it shapes a message, in one place: the
SMTP channel and the demo's outbox must agree, or the demo would show mail that production
refuses (tests/mail/test_mail_channel_contract.py runs one contract over both)."""

from __future__ import annotations

from dataclasses import replace

from metacrm.kernel.jobs import MailMessage


def one_line(text: str) -> str:
    """Header text on one line: CR/LF (header injection) and runs of spaces collapse."""
    return " ".join(text.split())


def checked_message(message: MailMessage) -> MailMessage:
    """`message` as a channel sends it: recipients and subject on one line each. ValueError
    when it has no recipient or a blank one."""
    recipients = tuple(one_line(address) for address in message.to)
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    if any(not address for address in recipients):
        raise ValueError("a recipient address is blank")
    return replace(message, to=recipients, subject=one_line(message.subject))
