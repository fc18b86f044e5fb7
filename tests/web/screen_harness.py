"""Shared pieces of the screen tests (tests/web): the app on an isolated database with
small metadata, users signed in through the login page, and CSRF-carrying form posts."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from web_harness import PASSWORD, Web, open_web, role

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def labels(en: str, ru: str | None = None) -> dict[str, str]:
    return {"en": en, "ru": ru or en}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": labels(name.replace("_", " ").title()),
            **options}


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1,
            "label": labels(name.title()), "plural_label": labels(name.title() + "s"),
            "fields": list(fields) or [field("title")], **extra}


class Browser:
    """One user's session: a test client that keeps the session cookie."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def csrf(self) -> str:
        response = self.client.get("/app/login")
        if response.status_code == 302:  # signed in already: any page carries the token
            response = self.client.get("/app/")
        page = response.get_data(as_text=True)
        found = _CSRF.search(page)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def post(self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any
             ) -> TestResponse:
        """A form post with the session's CSRF token."""
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})},
                                **kwargs)

    def text(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (response.status_code, response.get_data()[:500])
        return response.get_data(as_text=True)


class Screens:
    """The app under test; `sign_in(name)` gives a Browser of that user."""

    def __init__(self, web: Web) -> None:
        self.web = web

    def user(self, name: str, role_name: str) -> Browser:
        self.web.create_user(name, role_name)
        return self.sign_in(name)

    def sign_in(self, name: str) -> Browser:
        browser = Browser(self.web.app.test_client())
        response = browser.client.post("/app/login", data={
            "csrf_token": browser.csrf(), "username": name, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return browser

    def anonymous(self) -> Browser:
        return Browser(self.web.app.test_client())


ADMIN = role("boss", admin=True)


@contextmanager
def open_screens(database_url: str, root: Path, *documents: Mapping[str, Any]
                 ) -> Iterator[Screens]:
    """The app on an isolated database whose metadata is `documents` plus an admin role
    `boss` (unless one named so is given)."""
    names = {document["name"] for document in documents}
    bodies = [*documents, *([ADMIN] if "boss" not in names else [])]
    with open_web(database_url, root, roles=bodies,
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        yield Screens(web)
