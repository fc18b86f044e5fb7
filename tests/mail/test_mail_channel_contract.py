"""The `MailChannel` port's contract, run over every adapter: SMTP (a real server on
loopback) and the demo's outbox. What a sender can rely on whichever channel the process
has: what it sends arrives as sent, once, in order; header injection cannot happen; a
message without a recipient is refused and nothing is sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from metacrm.kernel.jobs import MailChannel, MailMessage
from metacrm.mail.outbox import OutboxMailChannel
from metacrm.mail.smtp import SmtpMailChannel
from smtp_harness import smtp_server

Arrived = tuple[tuple[str, ...], str, str, str | None]
"""(recipients, subject, text, html) of a message as its reader sees it."""


@dataclass
class Adapter:
    channel: MailChannel
    arrived: Callable[[], list[Arrived]]


@pytest.fixture(params=["smtp", "outbox"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Adapter]:
    if request.param == "smtp":
        with smtp_server() as inbox:
            def received() -> list[Arrived]:
                return [(tuple(r.recipients), str(r.message["Subject"]), r.part("text/plain"),
                         r.part("text/html") if r.message.is_multipart() else None)
                        for r in inbox.messages]

            yield Adapter(SmtpMailChannel(f"smtp://127.0.0.1:{inbox.port}",
                                          "CRM <crm@example.com>"), received)
        return
    outbox = OutboxMailChannel(f"sqlite:///{tmp_path / 'outbox.db'}")
    try:
        yield Adapter(outbox, lambda: [(m.recipients, m.subject, m.text, m.html)
                                       for m in reversed(outbox.messages())])
    finally:
        outbox.close()


def test_a_message_arrives_as_sent(adapter: Adapter) -> None:
    message = MailMessage(to=("anna@example.com", "boris@example.ru"),
                          subject="Сделка выиграна: ACME — 7 000 €",
                          text="Поздравляем!\nDeal D-1000 was won.\n",
                          html="<p>Поздравляем! <b>D-1000</b></p>\n")

    adapter.channel.send(message)

    assert adapter.arrived() == [(message.to, message.subject, message.text, message.html)]


def test_messages_arrive_once_each_in_the_order_sent(adapter: Adapter) -> None:
    for number in range(3):
        adapter.channel.send(MailMessage(to=("ops@example.com",), subject=f"Digest {number}",
                                         text="-\n"))

    assert [subject for _, subject, _, _ in adapter.arrived()] == [
        "Digest 0", "Digest 1", "Digest 2"]


def test_a_subject_cannot_inject_headers(adapter: Adapter) -> None:
    adapter.channel.send(MailMessage(to=("ops@example.com",),
                                     subject="Hello\r\nBcc: victim@example.com\n  there",
                                     text="-\n"))

    [(recipients, subject, _, _)] = adapter.arrived()
    assert (recipients, subject) == (("ops@example.com",), "Hello Bcc: victim@example.com there")


@pytest.mark.parametrize("recipients", [(), ("  ",)])
def test_a_message_without_a_recipient_is_refused_and_nothing_is_sent(
        adapter: Adapter, recipients: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="recipient"):
        adapter.channel.send(MailMessage(to=recipients, subject="Nobody", text="-\n"))

    assert adapter.arrived() == []
