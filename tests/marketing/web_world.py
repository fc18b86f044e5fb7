"""The marketing web world of tests/marketing: the shipped packs up to marketing behind the
web app, and one user per role of the matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mkt_harness import PACKS

from metacrm.api import RUNTIME_KEY, WebRuntime
from metacrm.composition import Services
from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH
from web_harness import Web, bearer, role

SHIPPED = [dict(d.body) for d in load_documents([DEFAULT_METADATA_PATH]) if d.pack in PACKS]
ROLES = [*SHIPPED, role("boss", admin=True),
         role("rep", entities={
             "segment": {"read": "all"}, "campaign": {"read": "all"},
             "person": {"read": "own", "fields": {"email": "hidden"}},
             "lead": {"read": "own"}}),
         role("outsider", entities={"person": {"read": "all"}})]
SIGNUP_FORM = {
    "kind": "web_form", "name": "test_signup", "version": 1,
    "label": {"en": "Sign up", "ru": "Подписка"},
    "fields": [{"field": "first_name"}, {"field": "last_name", "required": True},
               {"field": "email", "required": True}],
    "consent": {"purpose": "newsletter",
                "text": {"en": "Send me the newsletter", "ru": "Присылайте рассылку"}},
    "source": "advertising", "redirect_url": "https://shop.example/thanks",
    "allowed_origins": ["https://shop.example"], "submissions_per_hour": 3}
ROLES.append(SIGNUP_FORM)
USERS = {"boss": "boss", "mm": "marketing_manager", "marketer": "marketer", "rep": "rep",
         "outsider": "outsider"}


@dataclass
class MarketingWeb:
    web: Web
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    """username -> user id (record owners)."""

    @property
    def services(self) -> Services:
        runtime: WebRuntime = self.web.app.extensions[RUNTIME_KEY]
        return runtime.services

    def create(self, kind: str, **values: Any) -> str:
        response = self.web.client.post(f"/api/v1/records/{kind}",
                                        headers=self.headers["boss"], json=values)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])


def make_world(web: Web) -> MarketingWeb:
    world = MarketingWeb(web)
    for user, role_name in USERS.items():
        world.ids[user] = str(web.create_user(user, role_name).id)
        world.headers[user] = bearer(web.login(user))
    world.headers["anonymous"] = {}
    return world
