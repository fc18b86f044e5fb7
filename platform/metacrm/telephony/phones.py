"""Phone numbers as the CRM stores them (E.164), and whose number one is.

Phone fields are stored in E.164 (the `phone` field type normalises them on save), so a
number in E.164 is found with an equality on each phone field of the contact entities:
people (`phone`, `mobile`), companies and leads (`phone`). Reads go through the given
subject's scoped repository.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Forbidden, NotFound
from metacrm.services.records.service import RecordsService

PHONE_FIELDS = (("person", ("mobile", "phone")), ("lead", ("phone",)),
                ("company", ("phone",)))
"""Where a number is looked for, in order: a person is more precise than their company."""
MAX_MATCHES = 10


@dataclass(frozen=True, slots=True)
class Contact:
    entity: str
    id: str
    owner: str | None


def e164(text: str) -> str | None:
    """`text` in E.164 when it is a valid international number, else None (short codes,
    `anonymous`, alphanumeric sender ids)."""
    try:
        number = phonenumbers.parse(text.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def contacts_of(records: RecordsService, subject: AccessSubject, number: str
                ) -> list[Contact]:
    """The records having `number` (E.164) in a phone field, people first."""
    model = records.runtime().model
    found: list[Contact] = []
    for entity, fields in PHONE_FIELDS:
        definition = model.entities.get(entity)
        if definition is None:
            continue
        for name in fields:
            if definition.field(name) is None:
                continue
            try:
                page = records.list(subject, entity, criteria={
                    "field": name, "op": "eq", "value": number}, limit=MAX_MATCHES,
                    fields=["id", "owner"])
            except (Forbidden, NotFound):
                continue
            for row in page.records:
                contact = Contact(entity, str(row["id"]),
                                  str(row["owner"]) if row.get("owner") else None)
                if contact not in found:
                    found.append(contact)
    return found
