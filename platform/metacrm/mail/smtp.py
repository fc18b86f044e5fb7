"""Send mail through an SMTP server (`METACRM_SMTP_URL`), with the standard library.

URL forms:

* `smtp://host[:port]` — plain SMTP (port 25 by default);
* `smtp://host:587?starttls=true` — upgrade to TLS with STARTTLS before anything else;
* `smtps://host[:port]` — TLS from the first byte (port 465 by default);
* `user:password@` before the host logs in (percent-encode `@`, `:` and `/` in them).

TLS verifies the server's certificate against the system's trusted authorities
(`SSL_CERT_FILE` adds others). Each message opens its own connection with a 10 second
timeout: automation sends few messages, and a stale pooled connection is a worse failure
than a new handshake. A message no recipient of which was accepted raises
`MailDeliveryFailed` (the job queue retries it); recipients refused while others were
accepted are logged.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from metacrm.kernel.jobs import MailMessage
from metacrm.mail.message_rules import checked_message

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
SENDER = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


class MailDeliveryFailed(Exception):
    """The SMTP server could not be reached or did not accept the message."""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect, parsed from an SMTP URL."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """The URL without credentials, for messages and logs."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{host}:{self.port}{suffix}"


def _invalid(reason: str) -> ValueError:
    return ValueError(f"METACRM_SMTP_URL is invalid: {reason}")


def _flag(query: dict[str, list[str]], name: str) -> bool:
    values = query.get(name, [])
    if not values:
        return False
    value = values[-1].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _invalid(f"{name}={values[-1]!r} is neither true nor false")


def parse_smtp_url(url: str) -> SmtpServer:
    """Parse and check an SMTP URL (see the module docstring); ValueError saying what is
    wrong otherwise (never repeating the password)."""
    if not isinstance(url, str) or not url.strip():
        raise _invalid("it is empty")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _invalid(f"it must start with smtp:// or smtps://, not {scheme or '(nothing)'}://")
    if not parts.hostname:
        raise _invalid("it names no host, e.g. smtp://mail.example.com:587?starttls=true")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise _invalid("the port must be a number from 1 to 65535") from None
    if parts.path not in ("", "/") or parts.fragment:
        raise _invalid("it must not have a path or fragment")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise _invalid(f"unknown option(s) {', '.join(unknown)}; the only option is starttls")
    starttls = _flag(query, "starttls")
    if starttls and scheme == "smtps":
        raise _invalid("starttls=true is for smtp://; smtps:// is encrypted from the start")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise _invalid("a password needs a user name (smtp://user:password@host)")
    return SmtpServer(parts.hostname, port, implicit_tls=scheme == "smtps", starttls=starttls,
                      username=username, password=password)


def _checked_sender(sender: str) -> str:
    """`sender` when it is an address (`a@b`, `Name <a@b>`; `metacrm@localhost` is fine)."""
    _name, address = parseaddr(sender)
    if not SENDER.match(address) or any(ch in sender for ch in "\r\n"):
        raise ValueError(f"METACRM_MAIL_FROM={sender!r} is not an email address such as "
                         "crm@example.com or 'CRM <crm@example.com>'")
    return sender


class SmtpMailChannel:
    """`MailChannel` over SMTP; the URL and sender are checked when it is built."""

    def __init__(self, url: str, sender: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.server = parse_smtp_url(url)
        self.sender = _checked_sender(sender)
        self.timeout = timeout

    def build(self, message: MailMessage) -> EmailMessage:
        """The MIME message for `message` (text, with an HTML alternative when given, then
        the attached files)."""
        message = checked_message(message)
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = ", ".join(message.to)
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
        email["Message-ID"] = make_msgid(domain=domain)
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        for attachment in message.attachments:
            maintype, _slash, subtype = attachment.content_type.partition("/")
            email.add_attachment(attachment.content, maintype=maintype or "application",
                                 subtype=subtype or "octet-stream", filename=attachment.name)
        return email

    def send(self, message: MailMessage) -> None:
        email = self.build(message)
        server = self.server
        try:
            with self._connect() as smtp:
                if server.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if server.username:
                    smtp.login(server.username, server.password or "")
                refused = smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailDeliveryFailed(
                f"mail to {', '.join(message.to)} was not accepted by {server.address}: "
                f"{exc}") from exc
        if refused:
            log.warning("%s refused recipients %s of %r", server.address, sorted(refused),
                        message.subject)

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        if server.implicit_tls:
            return smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(server.host, server.port, timeout=self.timeout)
