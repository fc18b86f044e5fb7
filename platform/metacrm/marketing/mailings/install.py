"""`install(services)`: mass mailings in a process — `services.mailings`
(`MailingService`), the `mailings.send` consumer (sends in batches), the scheduler's
`mailings.start` task (starts scheduled mailings when due), and a report reader on the
email intake (bounces, complaints and `mailto:` unsubscribes arriving in any polled
mailbox), and the lock on a started mailing's content (`content_lock`). Needs the
email feature and the marketing feature (`services.marketing`: segments and the consent
ledger) installed before it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from metacrm.email.templates import EmailTemplates
from metacrm.marketing.mailings.content_lock import MailingContentLock
from metacrm.marketing.mailings.ledger import RecipientLedger
from metacrm.marketing.mailings.sender import MailingSender
from metacrm.marketing.mailings.service import START_TASK, MailingService
from metacrm.marketing.mailings.tokens import MailingTokens

if TYPE_CHECKING:
    from metacrm.composition import Services


def install(services: Services) -> None:
    secret = services.settings.effective_secret_key()
    tokens = MailingTokens(secret)
    ledger = RecipientLedger(services.records, lambda: services.clock())
    sender = MailingSender(
        services.records, ledger, tokens, lambda: services.email.mailboxes,
        EmailTemplates(services.records, services.registry),
        lambda: services.marketing.consent, services.subjects.subject_of, secret=secret,
        public_url=services.settings.public_url, clock=lambda: services.clock(),
        lease=timedelta(seconds=services.settings.job_lease_seconds))
    service = MailingService(
        services.records, ledger, sender, tokens, lambda: services.email.mailboxes,
        lambda: services.marketing.segments, lambda: services.marketing.consent,
        lambda: services.dispatcher, lambda: services.clock())
    services.mailings = service
    services.records.computed = MailingContentLock(services.records,
                                                   services.records.computed)
    services.consumers.register(sender)
    services.periodic[START_TASK] = service.start_due
    services.email.intake.report_readers.append(service.read_report)
