"""The SMTP mail channel against a real SMTP server on loopback: plain, with login, STARTTLS
and implicit TLS (certificates from a test CA that the client trusts through SSL_CERT_FILE);
URL checking; a server that is down or refuses."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from metacrm.composition import build_services
from metacrm.kernel.jobs import MailMessage
from metacrm.mail import MailNotConfigured, mail_channel, require_mail
from metacrm.mail.smtp import MailDeliveryFailed, SmtpMailChannel, parse_smtp_url
from metacrm.settings import Settings
from smtp_harness import free_port, password_checker, smtp_server

MESSAGE = MailMessage(to=("ann@example.com", "bob@example.com"), subject="Deal won: ACME",
                      text="Congratulations!\nDeal D-1000 was won.\n",
                      html="<p>Congratulations! <b>D-1000</b></p>")


@pytest.fixture
def certificate_authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A throwaway CA the client trusts (SSL_CERT_FILE), as it would trust a real one."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return ca


@pytest.fixture
def server_tls(certificate_authority: trustme.CA) -> ssl.SSLContext:
    """The server's TLS: a certificate for 127.0.0.1 issued by the trusted test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def test_a_message_reaches_the_server_with_text_and_html() -> None:
    with smtp_server() as inbox:
        SmtpMailChannel(f"smtp://127.0.0.1:{inbox.port}", "CRM <crm@example.com>").send(MESSAGE)

    (received,) = inbox.messages
    assert received.login is None
    assert received.sender == "crm@example.com"
    assert received.recipients == ["ann@example.com", "bob@example.com"]
    assert received.message["Subject"] == "Deal won: ACME"
    assert received.message["From"] == "CRM <crm@example.com>"
    assert received.message["Message-ID"] and received.message["Date"]
    assert received.part("text/plain") == MESSAGE.text
    assert "<b>D-1000</b>" in received.part("text/html")


def test_the_default_sender_on_localhost_is_accepted() -> None:
    with smtp_server() as inbox:
        SmtpMailChannel(f"smtp://127.0.0.1:{inbox.port}", "metacrm@localhost").send(
            MailMessage(to=("ann@example.com",), subject="Hi", text="Hello"))

    assert inbox.messages[0].sender == "metacrm@localhost"


def test_a_subject_with_line_breaks_becomes_one_line() -> None:
    with smtp_server() as inbox:
        SmtpMailChannel(f"smtp://127.0.0.1:{inbox.port}", "crm@example.com").send(
            MailMessage(to=("ann@example.com",), subject="Hot lead:\r\nBcc: eve@example.com",
                        text="x"))

    message = inbox.messages[0].message
    assert message["Subject"] == "Hot lead: Bcc: eve@example.com"
    assert message["Bcc"] is None
    assert inbox.messages[0].recipients == ["ann@example.com"]


def test_login_with_the_credentials_of_the_url() -> None:
    with smtp_server(authenticator=password_checker("mailer", "p@ss:word")) as inbox:
        channel = SmtpMailChannel(f"smtp://mailer:p%40ss%3Aword@127.0.0.1:{inbox.port}",
                                  "crm@example.com")
        channel.send(MESSAGE)

    assert [m.login for m in inbox.messages] == ["mailer"]


def test_wrong_credentials_fail_clearly_without_the_password() -> None:
    with smtp_server(authenticator=password_checker("mailer", "right")) as inbox:
        channel = SmtpMailChannel(f"smtp://mailer:wrong-secret@127.0.0.1:{inbox.port}",
                                  "crm@example.com")
        with pytest.raises(MailDeliveryFailed) as failure:
            channel.send(MESSAGE)

    assert f"smtp://127.0.0.1:{inbox.port}" in str(failure.value)
    assert "wrong-secret" not in str(failure.value)
    assert inbox.messages == []


def test_starttls_upgrades_the_connection(server_tls: ssl.SSLContext) -> None:
    with smtp_server(tls_context=server_tls, require_starttls=True) as inbox:
        SmtpMailChannel(f"smtp://127.0.0.1:{inbox.port}?starttls=true",
                        "crm@example.com").send(MESSAGE)

    assert len(inbox.messages) == 1


def test_without_starttls_a_server_requiring_it_refuses(server_tls: ssl.SSLContext) -> None:
    with (smtp_server(tls_context=server_tls, require_starttls=True) as inbox,
          pytest.raises(MailDeliveryFailed)):
        SmtpMailChannel(f"smtp://127.0.0.1:{inbox.port}", "crm@example.com").send(MESSAGE)

    assert inbox.messages == []


def test_smtps_speaks_tls_from_the_start(server_tls: ssl.SSLContext) -> None:
    with smtp_server(tls_context=server_tls, implicit_tls=True) as inbox:
        SmtpMailChannel(f"smtps://127.0.0.1:{inbox.port}", "crm@example.com").send(MESSAGE)

    assert len(inbox.messages) == 1


def test_an_untrusted_certificate_is_refused(
    server_tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    with (smtp_server(tls_context=server_tls, implicit_tls=True) as inbox,
          pytest.raises(MailDeliveryFailed, match="CERTIFICATE_VERIFY_FAILED")):
        SmtpMailChannel(f"smtps://127.0.0.1:{inbox.port}", "crm@example.com").send(MESSAGE)

    assert inbox.messages == []


def test_a_server_that_is_down_fails_clearly() -> None:
    port = free_port()
    channel = SmtpMailChannel(f"smtp://127.0.0.1:{port}", "crm@example.com")

    with pytest.raises(MailDeliveryFailed, match=f"smtp://127.0.0.1:{port}"):
        channel.send(MESSAGE)


@pytest.mark.parametrize(("url", "reason"), [
    ("", "empty"),
    ("http://mail.example.com", "must start with smtp:// or smtps://"),
    ("smtp://", "names no host"),
    ("smtp://mail.example.com:99999", "port"),
    ("smtp://mail.example.com:25/inbox", "path"),
    ("smtp://mail.example.com?tls=yes", "unknown option"),
    ("smtp://mail.example.com?starttls=maybe", "neither true nor false"),
    ("smtps://mail.example.com?starttls=true", "encrypted from the start"),
    ("smtp://:secret@mail.example.com", "needs a user name"),
])
def test_bad_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match="METACRM_SMTP_URL is invalid") as failure:
        parse_smtp_url(url)

    assert reason in str(failure.value)
    assert "secret" not in str(failure.value)


def test_urls_give_ports_and_security() -> None:
    assert parse_smtp_url("smtp://mail.example.com").port == 25
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    server = parse_smtp_url("smtp://u%40x:p%2Fw@mail.example.com:587?starttls=true")
    assert (server.host, server.port, server.starttls, server.implicit_tls) == (
        "mail.example.com", 587, True, False)
    assert (server.username, server.password) == ("u@x", "p/w")
    assert "p/w" not in repr(server) and "p/w" not in server.address


def test_a_bad_sender_is_refused() -> None:
    with pytest.raises(ValueError, match="METACRM_MAIL_FROM"):
        SmtpMailChannel("smtp://mail.example.com", "not an address")


def test_no_smtp_url_means_no_channel_and_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite://", metadata_paths=(), redis_url=None,
                        secret_key="x", instance_path=tmp_path)

    assert mail_channel(settings) is None
    with pytest.raises(MailNotConfigured, match="METACRM_SMTP_URL is not set"):
        require_mail(None)


def test_a_bad_smtp_url_stops_the_services_from_starting(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", metadata_paths=(),
                        redis_url=None, secret_key="x", instance_path=tmp_path,
                        smtp_url="smtp://mailer:hunter2@")

    with pytest.raises(ValueError, match="names no host") as failure:
        build_services(settings)
    assert "hunter2" not in str(failure.value)


def test_the_services_carry_the_configured_channel(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", metadata_paths=(),
                        redis_url=None, secret_key="x", instance_path=tmp_path,
                        smtp_url="smtp://mail.example.com:587?starttls=true",
                        mail_from="CRM <crm@example.com>")
    services = build_services(settings)
    try:
        assert isinstance(services.mail, SmtpMailChannel)
        assert services.mail.server.address == "smtp://mail.example.com:587?starttls=true"
    finally:
        services.close()
