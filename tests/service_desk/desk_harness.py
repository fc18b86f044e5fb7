"""The service desk world of tests/service_desk: the shipped contacts and service packs, a
support team, a clock the test sets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.composition import Services
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH

ADMIN_ROLE = {"kind": "role", "name": "desk_admin", "version": 1,
              "label": {"en": "Admin", "ru": "Админ"}, "admin": True}
AGENT_ROLE = {"kind": "role", "name": "desk_agent", "version": 1,
              "label": {"en": "Agent", "ru": "Агент"},
              "entities": {"ticket": {"read": "own", "create": "all", "update": "own"},
                           "person": {"read": "all"}, "company": {"read": "all"}}}


@dataclass
class Desk:
    services: Services
    now: datetime = datetime(2026, 12, 4, 17, tzinfo=UTC)

    @property
    def admin(self) -> AccessSubject:
        return AccessSubject(user_id="1", username="admin", roles=("desk_admin",),
                             is_admin=True)

    def create(self, **values: Any) -> dict[str, Any]:
        return self.services.records.create(self.admin, "ticket",
                                            {"subject": "Printer on fire", **values})

    def get(self, ticket_id: str) -> dict[str, Any]:
        return self.services.records.get(self.admin, "ticket", ticket_id)

    def move(self, ticket_id: str, transition: str, at: datetime) -> dict[str, Any]:
        self.now = at
        return self.services.transitions.transition(self.admin, "ticket", ticket_id,
                                                    transition)




def desk_documents(**replaced: dict[str, Any]) -> list[Document]:
    """The shipped contacts and service packs and the test roles; `replaced`: document
    name -> a body to use instead of the shipped one."""
    shipped = [Document.from_body(replaced[d.name], source=d.source, pack=d.pack)
               if d.name in replaced else d
               for d in load_documents([DEFAULT_METADATA_PATH])
               if d.pack in ("contacts", "service")]
    return [*shipped, *(Document.from_body(body, source=f"{body['name']}.json", pack="test")
                        for body in (ADMIN_ROLE, AGENT_ROLE))]
