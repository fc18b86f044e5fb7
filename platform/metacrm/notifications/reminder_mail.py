"""Reminders by email: the `notifications.reminder_mail` consumer.

A user who ticked *Email me my reminders too* (`reminder_email`) gets each reminder twice:
on the bell, as everyone, and by mail. The reminders task (`notifications.reminders`)
submits one work item per reminder it adds for such a user, in the transaction that adds
the notification — so a reminder is mailed at most once however many schedulers tick, and
a mail that fails (the SMTP server is down) is retried by the job queue rather than lost.

The mail goes through `services.mail` (SMTP, or the demo's outbox). When it runs, the
recipient must still be able to read the record (the record is read through their scope,
hidden fields left out, as the bell shows it); a reminder about a record they lost, a user
deactivated or without an address is given up, not retried. Times are written in the
recipient's zone and the text in their language (en/ru).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord, GiveUp, MailChannel, MailMessage, WorkItem
from metacrm.kernel.users import UserDirectory
from metacrm.services.records.service import RecordsService
from metacrm.services.users.preferences import saved_language, saved_time_zone

CONSUMER_NAME = "notifications.reminder_mail"
EVENT_TYPE = "notification.reminder"
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))

TEXTS = {
    "en": {"subject": "Reminder: {title}", "due": "{label} \u201c{title}\u201d is due at {when}.",
           "open": "Open it: {link}"},
    "ru": {"subject": "Напоминание: {title}", "due": "{label} \u00ab{title}\u00bb: срок {when}.",
           "open": "Открыть: {link}"},
}


Submit = Callable[[sa.Connection, str, str, EventRecord], str | None]
"""The dispatcher's `submit`: a work item in the caller's transaction."""


def submit_reminder_mail(conn: sa.Connection, submit: Submit, *, user_id: str, entity: str,
                         record_id: str, moment: str, at: datetime) -> None:
    """Queue the mail of one reminder in the transaction that added it (`submit`: the
    dispatcher's `submit`)."""
    submit(conn, CONSUMER_NAME, f"reminder/{user_id}/{entity}/{record_id}"[:200], EventRecord(
        id=new_id(), type=EVENT_TYPE, entity=entity, record_id=record_id,
        payload={"user_id": user_id, "moment": moment}, created_at=at))


class ReminderMail:
    """The consumer; registered by `metacrm.notifications.install`."""

    name = CONSUMER_NAME

    def __init__(self, engine: sa.Engine, records: RecordsService,
                 subject_of: Callable[[str], AccessSubject | None], users: UserDirectory,
                 mail: Callable[[], MailChannel | None], public_url: str) -> None:
        self.engine = engine
        self.records = records
        self.subject_of = subject_of
        self.users = users
        self.mail = mail
        self.public_url = public_url.rstrip("/")

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ()  # submitted directly by the reminders task, never from published events

    def handle(self, item: WorkItem) -> None:
        event = item.event
        user_id = str(event.payload.get("user_id") or "")
        subject = self.subject_of(user_id) if user_id else None
        if subject is None:
            raise GiveUp("the user to remind is gone")
        with self.engine.connect() as conn:
            address = self.users.email_of(conn, user_id)
        if not address:
            raise GiveUp("the user to remind has no email address")
        try:
            record = self.records.get(subject, event.entity, event.record_id)
        except MetacrmError:
            raise GiveUp("the user may no longer read the record") from None
        channel = self.mail()
        if channel is None:
            raise RuntimeError("METACRM_SMTP_URL is not set: the reminder cannot be mailed")
        channel.send(self.message(address, user_id, event.entity, record,
                                  str(event.payload.get("moment") or "")))

    def message(self, address: str, user_id: str, entity: str, record: dict[str, Any],
                moment: str) -> MailMessage:
        """The reminder mail, in the recipient's language and zone."""
        language = saved_language(self.engine, user_id) or "en"
        texts = TEXTS.get(language, TEXTS["en"])
        zone_name = saved_time_zone(self.engine, user_id)
        definition = self.records.runtime().model.entities.get(entity)
        label = definition.label.get(language, definition.label.get("en", entity)) \
            if definition is not None else entity
        title_field = definition.title_field if definition is not None else None
        title = str(record.get(title_field) or "") if title_field else ""
        title = title or str(record.get("id") or "")
        try:
            when = datetime.fromisoformat(moment).astimezone(ZoneInfo(zone_name)).strftime(
                f"%Y-%m-%d %H:%M {zone_name}")
        except ValueError:
            when = moment
        link = f"{self.public_url}/app/r/{entity}/{record.get('id')}"
        text = texts["due"].format(label=label, title=title, when=when) + "\n\n" \
            + texts["open"].format(link=link) + "\n"
        return MailMessage(to=(address,), subject=texts["subject"].format(title=title),
                           text=text)

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return RETRY_DELAYS[index] if index < len(RETRY_DELAYS) else None
