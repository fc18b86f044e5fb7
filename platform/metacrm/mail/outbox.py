"""`OutboxMailChannel`: the `MailChannel` that keeps mail in a table instead of sending it.

`metacrm demo` chooses it (`Settings.mail_outbox`, unless METACRM_SMTP_URL is set): the demo
has no mail server, yet its triggers mail the demo users, and admins read what would have
been sent on `/app/admin/outbox`. Each message is written in a transaction of its own, like
a real send that cannot be taken back when the sender's transaction rolls back.

The table lives in a SQLite file of its own in the instance folder (`mail-outbox.db`), like
a mail server's spool, not in the CRM's database: a sender runs inside a write transaction
(an automation run), and on SQLite a second writer on the same file waits for that one to
end — measured, every demo mail then failed after the 30 s lock timeout.
"""

from __future__ import annotations

import sqlalchemy as sa

from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.jobs import MailMessage
from metacrm.mail.message_rules import checked_message
from metacrm.storage.engine import create_database_engine
from metacrm.storage.mail_outbox import KeptMail, create_outbox_table, keep_mail, kept_mail


class OutboxMailChannel:
    """Keeps every message in `metacrm_mail_outbox` of the database at `url` (the table is
    created when missing)."""

    def __init__(self, url: str, clock: Clock = utc_now) -> None:
        self.engine: sa.Engine = create_database_engine(url)
        self.clock = clock
        with self.engine.begin() as connection:
            create_outbox_table(connection)

    def send(self, message: MailMessage) -> None:
        message = checked_message(message)
        with self.engine.begin() as connection:
            keep_mail(connection, message, self.clock())

    def close(self) -> None:
        self.engine.dispose()

    def messages(self, *, limit: int = 100) -> list[KeptMail]:
        """The newest `limit` messages kept, newest first."""
        with self.engine.connect() as connection:
            return kept_mail(connection, limit=limit)
