"""`metacrm_mail_outbox`: mail kept instead of sent (the demo's local outbox).

The `OutboxMailChannel` (`metacrm.mail.outbox`) writes every message here; the admins' outbox
page (`/app/admin/outbox`) reads the newest. A table of its own (own `MetaData`) in the
outbox's own database file, created when the channel is built, so installations that send
real mail never get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from metacrm.fieldtypes.sqltypes import UTCDateTime
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import MailMessage

outbox_metadata = sa.MetaData()

mail_outbox = sa.Table(
    "metacrm_mail_outbox",
    outbox_metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=True),
)


@dataclass(frozen=True, slots=True)
class KeptMail:
    """One message of the outbox."""

    id: str
    created_at: datetime
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str | None


def create_outbox_table(connection: sa.Connection) -> None:
    """Create the table when missing (idempotent)."""
    mail_outbox.create(connection, checkfirst=True)


def keep_mail(connection: sa.Connection, message: MailMessage, now: datetime) -> str:
    """Store `message`; its id."""
    mail_id = new_id()
    connection.execute(mail_outbox.insert().values(
        id=mail_id, created_at=now, recipients=list(message.to), subject=message.subject,
        text=message.text, html=message.html))
    return mail_id


def kept_mail(connection: sa.Connection, *, limit: int = 100) -> list[KeptMail]:
    """The newest `limit` messages, newest first (none when the table does not exist)."""
    if not sa.inspect(connection).has_table(mail_outbox.name):
        return []
    rows = connection.execute(
        sa.select(mail_outbox).order_by(mail_outbox.c.created_at.desc(),
                                        mail_outbox.c.id.desc()).limit(limit))
    return [KeptMail(row.id, row.created_at, tuple(row.recipients), row.subject, row.text,
                     row.html) for row in rows]
