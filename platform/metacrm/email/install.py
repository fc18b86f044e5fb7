"""`install(services)`: email in and out in a process (web app, worker, scheduler).

Registers `services.email` (`EmailFeature`: the mailboxes, the outbound composer, the
intake and the IMAP poller), the `email.send` consumer (sends queued messages) and the
scheduler's periodic task `email.poll` (reads new mail of every mailbox over IMAP), and
email in the channel registry: the `email` provider (`channel`) and `OutboundEmail` as the
record sender of `channel: email`. The
entities (`email_message`, `email_participant`, `email_template`) come from the `email`
metadata pack; without it a send or an inbound message is refused with a clear error.
Needs the files feature (installed before it in `FEATURES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metacrm.email.channel import CHANNEL, EmailProvider
from metacrm.email.imap_poll import TASK_NAME as POLL_TASK
from metacrm.email.imap_poll import MailboxPoller
from metacrm.email.intake import EmailIntake
from metacrm.email.mailboxes import MailboxStore
from metacrm.email.outbound import OutboundEmail
from metacrm.email.smtp_send import EmailSendConsumer
from metacrm.email.templates import EmailTemplates
from metacrm.storage.periodic_slots import claim_period

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "email"


@dataclass(frozen=True)
class EmailFeature:
    mailboxes: MailboxStore
    outbound: OutboundEmail
    intake: EmailIntake
    poller: MailboxPoller


def install(services: Services) -> None:
    secret = services.settings.effective_secret_key()
    mailboxes = MailboxStore(services.engine, secret, lambda: services.clock())
    intake = EmailIntake(services.records, services.files, secret, lambda: services.clock(),
                         lambda: getattr(services, "ticket_replies", None))
    outbound = OutboundEmail(services.records, mailboxes,
                             EmailTemplates(services.records, services.registry),
                             lambda: services.dispatcher, secret, lambda: services.clock(),
                             services.files)
    poller = MailboxPoller(services.engine, mailboxes, intake, lambda: services.clock())
    services.email = EmailFeature(mailboxes, outbound, intake, poller)
    services.consumers.register(EmailSendConsumer(
        services.records, lambda: mailboxes, lambda: services.clock(), services.files,
        lambda name, now, every: claim_period(services.engine, name, now, every)))
    services.periodic[POLL_TASK] = poller
    services.channels.register(CHANNEL, EmailProvider(mailboxes))
    services.channels.register_record_sender(CHANNEL, outbound)
