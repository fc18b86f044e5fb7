"""Outgoing mail: the adapters of the `MailChannel` port (`metacrm.kernel.jobs`) — SMTP, and
the outbox table the demo keeps mail in.

`mail_channel(settings)` builds the process's channel: SMTP from `METACRM_SMTP_URL`; else
the outbox (`instance/mail-outbox.db`) when `settings.mail_outbox` (set by `metacrm demo`);
else None.
`require_mail(channel)` is what a sender calls, so "mail is not configured" is one clear
error wherever mail is sent.
"""

from __future__ import annotations

from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.jobs import MailChannel
from metacrm.settings import Settings


class MailNotConfigured(MetacrmError):
    """Mail was to be sent but no SMTP server is configured."""

    status = 503
    title = "Mail is not configured"


OUTBOX_DATABASE = "mail-outbox.db"


def mail_channel(settings: Settings, clock: Clock = utc_now) -> MailChannel | None:
    """The SMTP channel of `settings.smtp_url` (its URL checked now); else the outbox in the
    instance folder when `settings.mail_outbox` (stamping mail by `clock`); else None."""
    if settings.smtp_url:
        from metacrm.mail.smtp import SmtpMailChannel

        return SmtpMailChannel(settings.smtp_url, settings.mail_from)
    if settings.mail_outbox:
        from metacrm.mail.outbox import OutboxMailChannel

        settings.instance_path.mkdir(parents=True, exist_ok=True)
        return OutboxMailChannel(f"sqlite:///{settings.instance_path / OUTBOX_DATABASE}",
                                 clock)
    return None


def require_mail(channel: MailChannel | None) -> MailChannel:
    """`channel`, or MailNotConfigured when there is none."""
    if channel is None:
        raise MailNotConfigured(
            "METACRM_SMTP_URL is not set: this process cannot send mail "
            "(set it to smtp://host:port, see docs/operations.md)")
    return channel
