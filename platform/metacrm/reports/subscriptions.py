"""Scheduled report mails: a report's `subscriptions` mailed on their cron schedules.

The scheduler's periodic task `reports.subscriptions` (`ReportSubscriptions`) looks at
every subscription of the live model's reports on each tick. When the newest slot of its
cron expression (UTC) is new to this process, it finds the recipients — active users with
one of its `roles` and the users its `users` name (login names), with a deliverable
address —
and mails each of them the report **run as that user**: their read scope, their field
security, their time zone (buckets and times) and their language. A recipient whose run
is refused (they may not read the entity, a field is hidden from them) gets no mail; the
refusal is logged.

Each (report, subscription, slot, recipient) is claimed in `metacrm_report_deliveries`
before the mail is sent: with several scheduler processes each recipient gets each slot
once for the instance. A mail that fails releases its claim, so a later tick of some
process tries again (this process after `RETRY_AFTER`). As with snapshots, slots missed
while no scheduler ran are not made up; only the newest is sent, late.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.jobs import MailChannel
from metacrm.kernel.users import UserDirectory
from metacrm.metadata.model import ReportDef, SubscriptionDef
from metacrm.reports.report_mail import Recipient, report_message
from metacrm.reports.service import ReportService
from metacrm.reports.snapshots import latest_slot
from metacrm.services.users.preferences import saved_language, saved_time_zone
from metacrm.storage.system_tables import report_deliveries

if TYPE_CHECKING:
    from metacrm.composition import Services

TASK_NAME = "reports.subscriptions"
RETRY_AFTER = timedelta(minutes=5)
"""A recipient whose mail failed is tried again this much later by this process."""
UNDELIVERABLE_DOMAIN = ".invalid"
"""Users created without an address have `<name>@users.metacrm.invalid`: nothing is sent
there (RFC 2606 reserves `.invalid`)."""
MAX_USERS = 10_000
"""Users looked at for a subscription's roles (the identity provider lists at most this)."""
_log = logging.getLogger(__name__)


class ReportSubscriptions:
    """The periodic task; `services.periodic[TASK_NAME]`."""

    def __init__(self, reports: ReportService, users: UserDirectory,
                 subject_of: Callable[[str], AccessSubject | None],
                 mail: Callable[[], MailChannel | None]) -> None:
        self.reports = reports
        self.users = users
        self.subject_of = subject_of
        self.mail = mail
        self._done: dict[tuple[str, str], datetime] = {}
        """The newest slot this process sent completely, per (report, subscription)."""
        self._retry_after: dict[tuple[str, str, str], datetime] = {}

    @property
    def engine(self) -> sa.Engine:
        return self.reports.records.engine

    def __call__(self, now: datetime) -> None:
        channel = self.mail()
        if channel is None:
            return  # no mail configured in this process: nothing can be sent
        for report in self.reports.model().reports.values():
            for subscription in report.subscriptions:
                try:
                    self.send_due(report, subscription, now, channel)
                except MetacrmError as error:  # one subscription must not stop the others
                    _log.warning("subscription %s of report %s: %s", subscription.name,
                                 report.name, error)

    def send_due(self, report: ReportDef, subscription: SubscriptionDef, now: datetime,
                 channel: MailChannel) -> int:
        """Mail the subscription's newest slot to every recipient no process mailed it
        to yet; how many mails this call sent."""
        slot = latest_slot(subscription.schedule, now)
        key = (report.name, subscription.name)
        if self._done.get(key) == slot:
            return 0
        sent, pending = 0, False
        for recipient in self.recipients(subscription):
            retry_key = (*key, recipient.user_id)
            if self._retry_after.get(retry_key, now) > now:
                pending = True
                continue
            try:
                sent += self.send_one(report, subscription, slot, recipient, now, channel)
            except Exception:  # this recipient's mail failed: the others still get theirs
                _log.exception("report %s (subscription %s) to user %s failed; retrying "
                               "in %s", report.name, subscription.name, recipient.user_id,
                               RETRY_AFTER)
                self._retry_after[retry_key] = now + RETRY_AFTER
                pending = True
            else:
                self._retry_after.pop(retry_key, None)
        if not pending:
            self._done[key] = slot
            self._forget_before(report, subscription, slot)
        return sent

    def send_one(self, report: ReportDef, subscription: SubscriptionDef, slot: datetime,
                 recipient: Recipient, now: datetime, channel: MailChannel) -> bool:
        """Claim and mail one recipient's slot; False when another process has it or the
        recipient may not run the report."""
        subject = self.subject_of(recipient.user_id)
        if subject is None:
            return False
        if not self._claim(report, subscription, slot, recipient.user_id, now):
            return False
        try:
            if not self.reports.readable(subject, report):
                _log.info("user %s may not read %s: no mail of report %s",
                          recipient.user_id, report.entity, report.name)
                return False
            parameters = {**subscription.parameters, "time_zone": recipient.time_zone}
            try:
                result = self.reports.run(subject, report, parameters)
            except MetacrmError as error:  # e.g. a field hidden from this user
                _log.info("report %s refused for user %s: %s", report.name,
                          recipient.user_id, error)
                return False
            channel.send(report_message(report, subscription.name, result, recipient, now))
        except BaseException:
            self._release(report, subscription, slot, recipient.user_id)
            raise
        return True

    def recipients(self, subscription: SubscriptionDef) -> Iterator[Recipient]:
        """The active users the subscription names or whose roles it names, with an
        address, each once, by id."""
        wanted = set(subscription.roles)
        ids: set[str] = set()
        with self.engine.connect() as conn:
            for username in subscription.users:
                number = self.users.find_id(conn, username)
                if number is not None:
                    ids.add(str(number))
            if wanted:
                for listing in self.users.listings(conn, active_only=True, limit=MAX_USERS):
                    identity = self.users.load(conn, int(listing.id))
                    if identity is not None and wanted.intersection(identity.roles):
                        ids.add(listing.id)
            addresses = {user_id: self.users.email_of(conn, user_id) for user_id in ids}
        for user_id in sorted(ids, key=int):
            address = addresses[user_id]
            if address and not address.endswith(UNDELIVERABLE_DOMAIN):
                yield Recipient(user_id, address,
                                saved_language(self.engine, user_id) or "en",
                                saved_time_zone(self.engine, user_id))

    def _claim(self, report: ReportDef, subscription: SubscriptionDef, slot: datetime,
               user_id: str, now: datetime) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(report_deliveries).values(
                    report=report.name, subscription=subscription.name, slot=slot,
                    user_id=user_id, sent_at=now))
        except sa.exc.IntegrityError:
            return False  # another scheduler (or an earlier tick) mailed this one
        return True

    def _forget_before(self, report: ReportDef, subscription: SubscriptionDef,
                       slot: datetime) -> None:
        """Drop the claims of older slots (only the newest slot can still be claimed)."""
        d = report_deliveries.c
        with self.engine.begin() as conn:
            conn.execute(sa.delete(report_deliveries).where(
                d.report == report.name, d.subscription == subscription.name, d.slot < slot))

    def _release(self, report: ReportDef, subscription: SubscriptionDef, slot: datetime,
                 user_id: str) -> None:
        d = report_deliveries.c
        with self.engine.begin() as conn:
            conn.execute(sa.delete(report_deliveries).where(
                d.report == report.name, d.subscription == subscription.name,
                d.slot == slot, d.user_id == user_id))


def install(services: Services) -> None:
    """The scheduler task `reports.subscriptions`."""
    services.periodic[TASK_NAME] = ReportSubscriptions(
        services.reports, services.subjects.users, services.subjects.subject_of,
        lambda: services.mail)
