"""The outbox `MailChannel` (what `metacrm demo` uses): mail is kept in a table instead of
sent, chosen only by `Settings.mail_outbox` and only when no SMTP server is set."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from metacrm.composition import build_services
from metacrm.kernel.jobs import MailMessage
from metacrm.mail import mail_channel
from metacrm.mail.outbox import OutboxMailChannel
from metacrm.mail.smtp import SmtpMailChannel
from metacrm.settings import Settings

MONDAY = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)


def settings_in(tmp_path: Path, **changes: object) -> Settings:
    base = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", metadata_paths=(),
                    redis_url=None, secret_key="x", instance_path=tmp_path)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_sent_mail_is_kept_newest_first(tmp_path: Path) -> None:
    channel = OutboxMailChannel(f"sqlite:///{tmp_path / 'outbox.db'}", clock=lambda: MONDAY)
    try:
        channel.send(MailMessage(to=("ann@example.com",), subject="First", text="one"))
        channel.send(MailMessage(to=("bob@example.com", "cy@example.com"), subject="Second",
                                 text="two", html="<p>two</p>"))

        kept = channel.messages()

        assert [(m.recipients, m.subject, m.text, m.html) for m in kept] == [
            (("bob@example.com", "cy@example.com"), "Second", "two", "<p>two</p>"),
            (("ann@example.com",), "First", "one", None)]
        assert kept[0].created_at == MONDAY
        assert len(OutboxMailChannel(f"sqlite:///{tmp_path / 'outbox.db'}").messages()) == 2
    finally:
        channel.close()


def test_the_outbox_is_chosen_by_the_setting_and_smtp_wins(tmp_path: Path) -> None:
    assert mail_channel(settings_in(tmp_path)) is None
    kept = mail_channel(settings_in(tmp_path, mail_outbox=True))
    assert isinstance(kept, OutboxMailChannel)
    assert (tmp_path / "mail-outbox.db").is_file()
    sent = mail_channel(settings_in(tmp_path, mail_outbox=True,
                                    smtp_url="smtp://mail.example.com:25"))
    assert isinstance(sent, SmtpMailChannel)
    services = build_services(settings_in(tmp_path, mail_outbox=True))
    try:
        assert isinstance(services.mail, OutboxMailChannel)
    finally:
        services.close()
