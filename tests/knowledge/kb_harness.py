"""The knowledge base world of tests/knowledge: the shipped contacts, service and knowledge
packs behind the web app, an admin, a knowledge manager, an agent (service agent and
knowledge reader) and a user without the knowledge base."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH
from web_harness import Web, bearer, role

PACKS = ("contacts", "service", "knowledge")
SHIPPED = [dict(d.body) for d in load_documents([DEFAULT_METADATA_PATH]) if d.pack in PACKS]
ROLES = [*SHIPPED, role("boss", admin=True),
         role("agent", entities={
             "ticket": {"read": "all", "create": "all", "update": "own"},
             "kb_article": {"read": "all"}}),
         role("outsider", entities={"ticket": {"read": "all", "create": "all"}})]


@dataclass
class Kb:
    """The app and a bearer header per user."""

    web: Web
    admin: dict[str, str]
    manager: dict[str, str]
    agent: dict[str, str]
    outsider: dict[str, str]

    def article(self, title: str, body: str = "", *, language: str = "en",
                published: bool = True, **values: Any) -> str:
        """A new article (published unless asked not to), written by the manager."""
        response = self.web.client.post("/api/v1/records/kb_article", headers=self.manager,
                                        json={"title": title, "body": body,
                                              "language": language, **values})
        assert response.status_code == 201, response.get_json()
        article = str(response.get_json()["data"]["id"])
        if published:
            moved = self.web.client.post(
                f"/api/v1/records/kb_article/{article}/transitions/publish",
                headers=self.manager, json={})
            assert moved.status_code == 200, moved.get_json()
        return article

    def ticket(self, subject: str) -> str:
        response = self.web.client.post("/api/v1/records/ticket", headers=self.admin,
                                        json={"subject": subject})
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def record(self, entity: str, record_id: str) -> dict[str, Any]:
        response = self.web.client.get(f"/api/v1/records/{entity}/{record_id}",
                                       headers=self.admin)
        assert response.status_code == 200, response.get_json()
        data: dict[str, Any] = response.get_json()["data"]
        return data


def make_kb(web: Web) -> Kb:
    headers = {}
    for user, role_name in (("boss", "boss"), ("kbm", "knowledge_manager"),
                            ("agent", "agent"), ("outsider", "outsider")):
        web.create_user(user, role_name)
        headers[user] = bearer(web.login(user))
    return Kb(web, headers["boss"], headers["kbm"], headers["agent"], headers["outsider"])
