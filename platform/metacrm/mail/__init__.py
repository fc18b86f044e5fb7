"""Outgoing mail: the SMTP adapter of the `MailChannel` port (`metacrm.kernel.jobs`).

`mail_channel(settings)` builds the process's channel from `METACRM_SMTP_URL` (None when it
is not set); `require_mail(channel)` is what a sender calls, so "mail is not configured" is
one clear error wherever mail is sent.
"""

from __future__ import annotations

from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.jobs import MailChannel
from metacrm.settings import Settings


class MailNotConfigured(MetacrmError):
    """Mail was to be sent but no SMTP server is configured."""

    status = 503
    title = "Mail is not configured"


def mail_channel(settings: Settings) -> MailChannel | None:
    """The SMTP channel of `settings.smtp_url` (its URL checked now), or None when unset."""
    if not settings.smtp_url:
        return None
    from metacrm.mail.smtp import SmtpMailChannel

    return SmtpMailChannel(settings.smtp_url, settings.mail_from)


def require_mail(channel: MailChannel | None) -> MailChannel:
    """`channel`, or MailNotConfigured when there is none."""
    if channel is None:
        raise MailNotConfigured(
            "METACRM_SMTP_URL is not set: this process cannot send mail "
            "(set it to smtp://host:port, see docs/operations.md)")
    return channel
