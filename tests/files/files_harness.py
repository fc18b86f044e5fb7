"""A module-scoped app for the attachment and document tests: one database (a SQLite file
or a fresh PostgreSQL schema) and one app shared by a test module's tests, with an admin
(`root`, role `boss`) and a rep (`ann`, role `clerk`: own gadgets)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from database_harness import postgres_schema, schema_url
from metacrm.api import RUNTIME_KEY
from web_harness import Web, bearer, open_web, role


def labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


GADGET = {"kind": "entity", "name": "gadget", "version": 1, "label": labels("Gadget"),
          "title_field": "title",
          "fields": [{"name": "title", "type": "text", "label": labels("Title"),
                      "required": True},
                     {"name": "price", "type": "money", "label": labels("Price"),
                      "currency": "RUB"}]}
ADMIN_ROLE = role("boss", admin=True)
CLERK_ROLE = role("clerk", entities={"gadget": {
    "read": "own", "create": "all", "update": "own", "delete": "own", "export": "none"}})


class Api:
    def __init__(self, web: Web, clerk_role: str = "clerk") -> None:
        self.web = web
        self.client: FlaskClient = web.client
        web.create_user("root", "boss")
        web.create_user("ann", clerk_role)
        self.admin = bearer(web.login("root"))
        self.clerk = bearer(web.login("ann"))

    def user(self, name: str, role_name: str = "clerk") -> dict[str, str]:
        self.web.create_user(name, role_name)
        return bearer(self.web.login(name))

    @property
    def services(self) -> Any:
        return self.web.app.extensions[RUNTIME_KEY].services


@contextmanager
def module_api(root: Path, *documents: Mapping[str, Any], clerk_role: str = "clerk",
               **settings: Any) -> Iterator[Api]:
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or ""
    settings.setdefault("rate_limit", "100000 per minute")
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        else:
            url = f"sqlite:///{root / 'test.db'}"
        web = stack.enter_context(open_web(
            url, root, roles=documents or (ADMIN_ROLE, CLERK_ROLE, GADGET),
            settings_changes=settings))
        yield Api(web, clerk_role)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.mimetype == "application/problem+json"
    document: dict[str, Any] = response.get_json()
    return document
