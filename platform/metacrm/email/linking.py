"""Who an address belongs to: the people, companies and leads with that email address, read
through the subject's scoped repository (an entity the model lacks or the subject may not
read is skipped), and the `email_participant` rows that put a message on their timelines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Forbidden, NotFound
from metacrm.services.records.service import RecordsService

CONTACT_ENTITIES = ("person", "company", "lead")
PARTICIPANT_ENTITY = "email_participant"
MAX_MATCHES = 10


@dataclass(frozen=True, slots=True)
class Contact:
    entity: str
    id: str


def contacts_of(records: RecordsService, subject: AccessSubject, address: str
                ) -> list[Contact]:
    """The records whose `email` is `address` (case-insensitive), people first."""
    model = records.runtime().model
    found: list[Contact] = []
    for entity in CONTACT_ENTITIES:
        if entity not in model.entities or model.entities[entity].field("email") is None:
            continue
        try:
            page = records.list(subject, entity, criteria={
                "field": "email", "op": "eq", "value": address}, limit=MAX_MATCHES,
                fields=["id"])
        except (Forbidden, NotFound):
            continue
        found += [Contact(entity, str(row["id"])) for row in page.records]
    return found


@dataclass(frozen=True, slots=True)
class Participant:
    role: str
    address: str
    contacts: tuple[Contact, ...]


def resolve(records: RecordsService, subject: AccessSubject,
            roles: Iterable[tuple[str, Sequence[str]]], ignore: frozenset[str]
            ) -> list[Participant]:
    """Each address of the message (but the mailbox's own, `ignore`) with its contacts;
    read before the write transaction."""
    return [Participant(role, address, tuple(contacts_of(records, subject, address)))
            for role, addresses in roles for address in addresses if address not in ignore]


def add_participants(conn: sa.Connection, records: RecordsService, subject: AccessSubject,
                     message_id: str, participants: Sequence[Participant],
                     owner: str | None) -> None:
    """One `email_participant` per address and contact having it (or per address alone)."""
    for participant in participants:
        for contact in participant.contacts or (None,):
            values: dict[str, object] = {"message": message_id, "address": participant.address,
                                         "role": participant.role}
            if contact is not None:
                values["contact"] = {"entity": contact.entity, "id": contact.id}
            if owner:
                values["owner"] = owner
            records.create_in(conn, subject, PARTICIPANT_ENTITY, values)
