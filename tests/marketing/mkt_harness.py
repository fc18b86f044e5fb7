"""The marketing world of tests/marketing: the shipped contacts, tasks, activities, sales,
email and marketing packs, and test roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.composition import Services
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH

PACKS = ("contacts", "tasks", "activities", "sales", "email", "marketing")
ADMIN_ROLE = {"kind": "role", "name": "mkt_admin", "version": 1,
              "label": {"en": "Admin", "ru": "Админ"}, "admin": True}
OWN_READER_ROLE = {
    "kind": "role", "name": "mkt_own_reader", "version": 1,
    "label": {"en": "Own reader", "ru": "Свои записи"},
    "entities": {"segment": {"read": "all"}, "segment_member": {"read": "all"},
                 "person": {"read": "own", "fields": {"email": "hidden"}},
                 "lead": {"read": "own"}}}


@dataclass
class Marketing:
    services: Services
    now: datetime = datetime(2026, 12, 4, 12, tzinfo=UTC)

    admin = AccessSubject(user_id="1", username="admin", roles=("mkt_admin",), is_admin=True)
    manager = AccessSubject(user_id="2", username="manager", roles=("marketing_manager",))
    marketer = AccessSubject(user_id="3", username="marketer", roles=("marketer",))
    own_reader = AccessSubject(user_id="4", username="reader", roles=("mkt_own_reader",))
    outsider = AccessSubject(user_id="5", username="outsider", roles=())

    def create(self, kind: str, **values: Any) -> dict[str, Any]:
        return self.services.records.create(self.admin, kind, values)

    def get(self, kind: str, record_id: str) -> dict[str, Any]:
        return self.services.records.get(self.admin, kind, record_id)


def marketing_documents(*extra: dict[str, Any]) -> list[Document]:
    """The shipped packs marketing depends on, marketing itself and the test roles."""
    shipped = [d for d in load_documents([DEFAULT_METADATA_PATH]) if d.pack in PACKS]
    return [*shipped, *(Document.from_body(body, source=f"{body['name']}.json", pack="test")
                        for body in (ADMIN_ROLE, OWN_READER_ROLE, *extra))]
