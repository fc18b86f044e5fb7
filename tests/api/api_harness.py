"""Shared pieces of the records, metadata and OpenAPI API tests: small metadata literals and
an app with the API blueprints registered and a logged-in admin and clerk."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from web_harness import Web, bearer, open_web, role


def labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": labels(name), **options}


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": labels(name),
            "fields": list(fields) or [field("title")], **extra}


GADGET = entity(
    "gadget",
    field("title", "text", required=True, indexed=True, max_length=100),
    field("price", "money", currency="USD", indexed=True),
    field("weight", "decimal", scale=3),
    field("units", "integer", indexed=True),
    field("ready", "boolean"),
    field("made_on", "date"),
    field("colour", "picklist", choices=[{"value": "red", "label": labels("Red")},
                                         {"value": "blue", "label": labels("Blue")}]),
    search_fields=["title"],
)

ADMIN_ROLE = role("boss", admin=True)


def clerk_role(scope: str = "own", **entities: Mapping[str, Any]) -> dict[str, Any]:
    """A role that may do everything within `scope` on the gadget entity (and `entities`)."""
    permission = {"read": scope, "create": "all", "update": scope, "delete": scope,
                  "export": "none"}
    return role("clerk", entities={"gadget": permission, **entities})


class Api:
    """The app, its test client and JWT headers of an admin (`boss`) and a clerk (`ann`)."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.client: FlaskClient = web.client
        web.create_user("root", "boss")
        web.create_user("ann", "clerk")
        self.admin = bearer(web.login("root"))
        self.clerk = bearer(web.login("ann"))

    def user(self, name: str, role_name: str = "clerk") -> dict[str, str]:
        self.web.create_user(name, role_name)
        return bearer(self.web.login(name))

    def put_meta(self, body: Mapping[str, Any], **query: str) -> Any:
        response = self.client.put(f"/api/v1/meta/{body['kind']}/{body['name']}",
                                   json=body, headers=self.admin, query_string=query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]


@contextmanager
def open_api(database_url: str, root: Path, *documents: Mapping[str, Any],
             **settings_changes: Any) -> Iterator[Api]:
    """The app on an isolated database whose metadata is `documents` (default: an admin
    role `boss` and a role `clerk` without permissions)."""
    settings_changes.setdefault("rate_limit", "100000 per minute")
    with open_web(database_url, root, roles=documents or (ADMIN_ROLE, role("clerk")),
                  settings_changes=settings_changes) as web:
        yield Api(web)


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem document of `response`, which must have `status`."""
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.mimetype == "application/problem+json"
    document: dict[str, Any] = response.get_json()
    assert document["status"] == status
    return document


def pointers(document: Mapping[str, Any]) -> set[str]:
    return {entry["pointer"] for entry in document["errors"]}
