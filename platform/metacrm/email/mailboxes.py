"""The CRM's mailboxes: where its mail is sent from and read from.

A mailbox has a name, its address, an SMTP URL to send through and an IMAP URL to poll
(`imap://user@host:143`, `imaps://user@host:993`; no passwords in URLs), the folder read
(default INBOX), whether a message from an unknown sender creates a lead (`create_leads`,
for a sales mailbox) with which lead `source`, and the user who owns what arrives.
The SMTP and IMAP passwords and the inbound webhook's secret are *secrets*: sealed with a
key derived from the instance's secret key (`SecretBox`, as pack secrets are), written
only, never shown (`Mailbox.to_json` says only which are set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.packs.secrets import SecretBox
from metacrm.storage.system_tables import email_mailboxes

NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
SECRET_KEYS = ("smtp_password", "imap_password", "inbound_secret")
SETTING_KEYS = ("smtp_url", "imap_url", "folder", "create_leads", "lead_source", "owner",
                "rate_per_hour")
BOX = "email mailboxes"


@dataclass(frozen=True)
class Mailbox:
    name: str
    address: str
    smtp_url: str | None = None
    imap_url: str | None = None
    folder: str = "INBOX"
    create_leads: bool = False
    lead_source: str | None = None
    owner: str | None = None
    rate_per_hour: int | None = None
    """At most this many mass-mailing messages an hour through this mailbox (the
    provider's limit; None: no limit) — `metacrm.marketing.mailings.rate_limit`."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    def secret(self, key: str) -> str | None:
        return self.secrets.get(key)

    def to_json(self) -> dict[str, Any]:
        """The mailbox as admins see it: secrets only as set or not."""
        return {"name": self.name, "address": self.address, "smtp_url": self.smtp_url,
                "imap_url": self.imap_url, "folder": self.folder,
                "create_leads": self.create_leads, "lead_source": self.lead_source,
                "owner": self.owner, "rate_per_hour": self.rate_per_hour,
                "secrets_set": sorted(key for key in SECRET_KEYS if self.secrets.get(key))}


def _problem(message: str, pointer: str) -> ValidationFailed:
    return ValidationFailed(f"invalid mailbox: {message}", [ErrorDetail(message, pointer)])


def _checked_url(value: Any, schemes: tuple[str, ...], pointer: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _problem("must be a URL text", pointer)
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise _problem(f"must be {' or '.join(s + '://host[:port]' for s in schemes)}",
                       pointer)
    if parts.password is not None:
        raise _problem("put no password in the URL: set it as a secret", pointer)
    return value


def checked_mailbox(name: str, body: Mapping[str, Any],
                    secrets: Mapping[str, str]) -> Mailbox:
    """A mailbox from an admin's JSON `body`; ValidationFailed pointing at what is wrong."""
    if not NAME.match(name):
        raise _problem("a name is lower-case letters, digits and _ (at most 64)", "/name")
    unknown = sorted(set(body) - {"address", *SETTING_KEYS, *SECRET_KEYS})
    if unknown:
        raise _problem(f"unknown property {unknown[0]!r}", f"/{unknown[0]}")
    address = body.get("address")
    if not isinstance(address, str) or not ADDRESS.match(address):
        raise _problem("an email address such as sales@example.com is required", "/address")
    folder = body.get("folder") or "INBOX"
    if not isinstance(folder, str) or len(folder) > 255:
        raise _problem("a folder name (at most 255 characters)", "/folder")
    create_leads = body.get("create_leads", False)
    if not isinstance(create_leads, bool):
        raise _problem("true or false", "/create_leads")
    for key in ("lead_source", "owner"):
        if body.get(key) is not None and not isinstance(body.get(key), str):
            raise _problem("a text", f"/{key}")
    rate = body.get("rate_per_hour")
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool)
                             or not 1 <= rate <= 1_000_000):
        raise _problem("a whole number of messages an hour from 1 to 1000000, or null",
                       "/rate_per_hour")
    new_secrets = dict(secrets)
    for key in SECRET_KEYS:
        if key in body:
            value = body[key]
            if value is not None and (not isinstance(value, str) or not value):
                raise _problem("a non-empty text (null removes it)", f"/{key}")
            if value is None:
                new_secrets.pop(key, None)
            else:
                new_secrets[key] = value
    return Mailbox(
        name=name, address=address.lower(),
        smtp_url=_checked_url(body.get("smtp_url"), ("smtp", "smtps"), "/smtp_url"),
        imap_url=_checked_url(body.get("imap_url"), ("imap", "imaps"), "/imap_url"),
        folder=folder, create_leads=create_leads, lead_source=body.get("lead_source"),
        owner=body.get("owner"), rate_per_hour=rate, secrets=new_secrets)


class MailboxStore:
    """Mailboxes in `metacrm_email_mailboxes`, their secrets sealed."""

    def __init__(self, engine: sa.Engine, secret_key: str,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self._box = SecretBox(secret_key, BOX)
        self.clock = clock

    def save(self, name: str, body: Mapping[str, Any]) -> Mailbox:
        """Create or change mailbox `name`; secrets left out of `body` are kept."""
        old = self.find(name)
        mailbox = checked_mailbox(name, body, old.secrets if old else {})
        settings = {key: getattr(mailbox, key) for key in SETTING_KEYS}
        values = {"address": mailbox.address, "settings": settings,
                  "secrets": self._box.seal(dict(mailbox.secrets)) if mailbox.secrets
                  else None, "updated_at": self.clock()}
        with self.engine.begin() as conn:
            if old is None:
                conn.execute(email_mailboxes.insert().values(name=name, **values))
            else:
                conn.execute(email_mailboxes.update().where(
                    email_mailboxes.c.name == name).values(**values))
        return mailbox

    def delete(self, name: str) -> None:
        with self.engine.begin() as conn:
            gone = conn.execute(email_mailboxes.delete().where(email_mailboxes.c.name == name))
        if not gone.rowcount:
            raise NotFound(f"there is no mailbox {name!r}", [ErrorDetail("no such mailbox",
                                                                          "/name")])

    def find(self, name: str) -> Mailbox | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(email_mailboxes).where(
                email_mailboxes.c.name == name)).mappings().first()
        return self._mailbox(dict(row)) if row is not None else None

    def get(self, name: str) -> Mailbox:
        found = self.find(name)
        if found is None:
            raise NotFound(f"there is no mailbox {name!r}", [ErrorDetail("no such mailbox",
                                                                          "/mailbox")])
        return found

    def all(self) -> list[Mailbox]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(email_mailboxes).order_by(
                email_mailboxes.c.name)).mappings().all()
        return [self._mailbox(dict(row)) for row in rows]

    def _mailbox(self, row: Mapping[str, Any]) -> Mailbox:
        settings = row["settings"]
        if isinstance(settings, str):
            settings = json.loads(settings)
        secrets = self._box.open(row["secrets"], "secrets") if row["secrets"] else {}
        return Mailbox(name=row["name"], address=row["address"],
                       secrets=dict(secrets), **{k: settings.get(k) for k in SETTING_KEYS
                                                 if settings.get(k) is not None})
