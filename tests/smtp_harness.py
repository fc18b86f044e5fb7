"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for mail tests.

`smtp_server()` starts one on a free port of 127.0.0.1 (plain, STARTTLS, implicit TLS or with
login, as asked) and yields its `Inbox`; a message is in the inbox as soon as the client's
send returned, because the server stores it before it answers 250.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None = None

    def part(self, content_type: str) -> str:
        """The text of the message's `content_type` part (text/plain, text/html)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content()).replace("\r\n", "\n")
        raise AssertionError(f"the message has no {content_type} part")


@dataclass
class Inbox:
    messages: list[Received] = field(default_factory=list)
    port: int = 0
    refusal: str | None = None
    """An SMTP reply (`550 5.1.1 no such user`) given to every recipient instead of
    accepting it: a server that refuses the mail."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        if self.refusal is not None:
            return self.refusal
        envelope.rcpt_tos.append(address)  # what aiosmtpd does without this hook
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,
                                      login))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def password_checker(username: str, password: str) -> Any:
    """An aiosmtpd authenticator accepting exactly this user name and password."""

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (isinstance(data, LoginPassword) and data.login == username.encode()
              and data.password == password.encode())
        return AuthResult(success=ok, handled=False, auth_data=data)

    return check


@contextmanager
def smtp_server(
    *, tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False,
    require_starttls: bool = False, authenticator: Any = None, refusal: str | None = None,
) -> Iterator[Inbox]:
    """An SMTP server on 127.0.0.1 until the block ends. `tls_context` with `implicit_tls`
    serves TLS from the first byte (smtps), without it offers STARTTLS; `authenticator`
    checks logins (allowed without TLS; the inbox records who logged in); `refusal` is
    the reply every recipient gets instead of being accepted (`Inbox.refusal`)."""
    inbox = Inbox(port=free_port(), refusal=refusal)
    options: dict[str, Any] = {}
    if tls_context is not None and implicit_tls:
        options["ssl_context"] = tls_context
    elif tls_context is not None:
        options["tls_context"] = tls_context
        options["require_starttls"] = require_starttls
    if authenticator is not None:  # logins over plain text: fine on loopback in tests
        options.update(authenticator=authenticator, auth_require_tls=False)
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
