"""Email as a registered channel provider: the registry hands out the core's email
provider, which sends over a mailbox's SMTP server, parses a raw message and reads a
bounce as a delivery status."""

from __future__ import annotations

from email_world import CRM, World, mail, world
from test_email_bounces import dsn

from metacrm.email.channel import EmailProvider
from metacrm.extension import OutboundMessage

__all__ = ["world"]


def test_the_registry_gives_the_email_provider_which_sends_over_smtp(world: World) -> None:
    provider = world.services.channels.provider("email")
    assert isinstance(provider, EmailProvider)

    receipt = provider.send(OutboundMessage("pat@acme.example", "Quick note\nSee you."))

    delivered = world.smtp.messages[-1]
    assert delivered.recipients == ["pat@acme.example"]
    assert delivered.message["Subject"] == "Quick note"
    assert delivered.message["Message-ID"] == receipt.message_id
    assert receipt.channel == "email" and receipt.details["mailbox"] == "sales"


def test_the_email_provider_parses_mail_and_reads_bounces(world: World) -> None:
    provider = world.services.channels.provider("email")
    assert isinstance(provider, EmailProvider)
    raw = mail("Pat Lee <pat@acme.example>", CRM, "Hi", "Text here",
               message_id="<channel-1@acme.example>")

    [message] = provider.parse_inbound({"raw": raw})
    status = provider.delivery_status({"raw": dsn("<sent-1@ourco.example>")})

    assert (message.sender, message.sender_name, message.text.strip()) == (
        "pat@acme.example", "Pat Lee", "Text here")
    assert message.raw["message_id"] == "<channel-1@acme.example>"
    assert status is not None and (status.message_id, status.status) == (
        "<sent-1@ourco.example>", "failed")
    assert "5.1.1" in (status.error or "")
    assert provider.delivery_status({"raw": raw}) is None  # ordinary mail reports nothing
    assert provider.delivery_status({"raw": dsn("<sent-1@ourco.example>", "delayed")}) is None
