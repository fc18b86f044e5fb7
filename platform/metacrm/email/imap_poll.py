"""Poll mailboxes over IMAP (the scheduler's `email.poll` task), by UID.

Each mailbox folder remembers its UIDVALIDITY and the highest UID taken
(`metacrm_email_mailbox_sync`): a poll fetches `UID last+1:*` only, so nothing is read
twice; when the server's UIDVALIDITY changed (the folder was recreated), the UIDs mean
other messages now and the folder is read again from the start — the intake's Message-ID
check keeps that from storing anything twice. Messages are not marked or moved on the
server (read with BODY.PEEK). The mark advances after each stored message, so a failure
midway resumes where it stopped; a message the intake refuses (no sender: not an email)
is logged and passed, so it cannot stop the mailbox for good. The scheduler's task polls
each mailbox at most once per `POLL_INTERVAL`; several schedulers polling at once store
nothing twice (the unique Message-ID).
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from metacrm.email.intake import EmailIntake, Received
from metacrm.email.mailboxes import Mailbox, MailboxStore
from metacrm.kernel.errors import ValidationFailed
from metacrm.storage.system_tables import email_mailbox_sync

log = logging.getLogger(__name__)
TASK_NAME = "email.poll"
TIMEOUT_SECONDS = 30.0
BATCH = 200
POLL_INTERVAL = timedelta(seconds=60)
UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class ImapError(Exception):
    """The IMAP server could not be reached or refused the mailbox's login or folder."""


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    parts = urlsplit(mailbox.imap_url or "")
    host = parts.hostname or ""
    if parts.scheme == "imaps":
        return imaplib.IMAP4_SSL(host, parts.port or 993, ssl_context=ssl.create_default_context(),
                                 timeout=TIMEOUT_SECONDS)
    return imaplib.IMAP4(host, parts.port or 143, timeout=TIMEOUT_SECONDS)


def _polled_at(engine: sa.Engine, mailbox: str) -> datetime | None:
    with engine.connect() as conn:
        moment = conn.execute(sa.select(sa.func.max(email_mailbox_sync.c.polled_at)).where(
            email_mailbox_sync.c.mailbox == mailbox)).scalar()
    return moment if isinstance(moment, datetime) else None


def _state(engine: sa.Engine, mailbox: str, folder: str) -> tuple[int, int] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(email_mailbox_sync.c.uidvalidity,
                                     email_mailbox_sync.c.last_uid).where(
            email_mailbox_sync.c.mailbox == mailbox,
            email_mailbox_sync.c.folder == folder)).first()
    return (int(row[0]), int(row[1])) if row is not None else None


def _save_state(engine: sa.Engine, mailbox: str, folder: str, uidvalidity: int, last_uid: int,
                now: datetime) -> None:
    table = email_mailbox_sync
    with engine.begin() as conn:
        changed = conn.execute(table.update().where(
            table.c.mailbox == mailbox, table.c.folder == folder).values(
            uidvalidity=uidvalidity, last_uid=last_uid, polled_at=now)).rowcount
        if not changed:
            conn.execute(table.insert().values(mailbox=mailbox, folder=folder,
                                               uidvalidity=uidvalidity, last_uid=last_uid,
                                               polled_at=now))


def _uids(client: imaplib.IMAP4, after: int) -> list[int]:
    status, data = client.uid("SEARCH", f"UID {after + 1}:*")
    if status != "OK":
        raise ImapError(f"UID SEARCH failed: {data!r}")
    uids = sorted(int(uid) for uid in (data[0] or b"").split())
    return [uid for uid in uids if uid > after][:BATCH]  # `n:*` always names the last one


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if status != "OK":
        raise ImapError(f"UID FETCH {uid} failed: {data!r}")
    for part in data:
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            return part[1]
    return None  # expunged meanwhile


class MailboxPoller:
    """Reads new mail of every mailbox with an IMAP URL into the intake."""

    def __init__(self, engine: sa.Engine, mailboxes: MailboxStore, intake: EmailIntake,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.mailboxes = mailboxes
        self.intake = intake
        self.clock = clock

    def __call__(self, now: datetime) -> None:
        """The periodic task: poll every mailbox; one failing does not stop the others."""
        for mailbox in self.mailboxes.all():
            if not mailbox.imap_url:
                continue
            last = _polled_at(self.engine, mailbox.name)
            if last is not None and now - last < POLL_INTERVAL:
                continue
            try:
                self.poll(mailbox)
            except (ImapError, OSError, imaplib.IMAP4.error) as exc:
                log.warning("mailbox %s could not be polled: %s", mailbox.name, exc)

    def poll(self, mailbox: Mailbox) -> list[Received]:
        """Store the messages new since the last poll of `mailbox`; returns what became of
        each."""
        return list(self._poll(mailbox))

    def _poll(self, mailbox: Mailbox) -> Iterator[Received]:
        parts = urlsplit(mailbox.imap_url or "")
        with _connect(mailbox) as client:
            if parts.username:
                client.login(unquote(parts.username), mailbox.secret("imap_password") or "")
            status, data = client.select(_quoted(mailbox.folder), readonly=True)
            if status != "OK":
                raise ImapError(f"folder {mailbox.folder!r}: {data!r}")
            uidvalidity = self._uidvalidity(client, mailbox.folder)
            state = _state(self.engine, mailbox.name, mailbox.folder)
            last = state[1] if state is not None and state[0] == uidvalidity else 0
            if state is None or state[0] != uidvalidity:
                _save_state(self.engine, mailbox.name, mailbox.folder, uidvalidity, 0,
                            self.clock())
            for uid in _uids(client, last):
                raw = _fetch(client, uid)
                if raw is not None:
                    try:
                        yield self.intake.receive(mailbox, raw)
                    except ValidationFailed as exc:
                        log.warning("mailbox %s: message UID %s passed: %s", mailbox.name,
                                    uid, exc)
                _save_state(self.engine, mailbox.name, mailbox.folder, uidvalidity, uid,
                            self.clock())

    @staticmethod
    def _uidvalidity(client: imaplib.IMAP4, folder: str) -> int:
        _typ, data = client.response("UIDVALIDITY")
        for value in data or ():
            if isinstance(value, bytes) and value.strip().isdigit():
                return int(value)
        status, answer = client.status(_quoted(folder), "(UIDVALIDITY)")
        match = UIDVALIDITY.search(answer[0] if answer and isinstance(answer[0], bytes) else b"")
        if status != "OK" or match is None:
            raise ImapError("the server told no UIDVALIDITY")
        return int(match.group(1))


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
