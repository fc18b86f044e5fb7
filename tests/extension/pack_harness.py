"""Shared pieces of the pack host tests: packs written as small folders, specs the packs
store would hand the host, and an app with a tiny deals model (company -> deal -> line)."""

from __future__ import annotations

import re
import textwrap
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from metacrm.api import RUNTIME_KEY
from metacrm.composition import Services
from metacrm.extension_host import PackHost
from web_harness import PASSWORD, Web, bearer, open_web, role


def labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def field_def(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": labels(name), **options}


def entity(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": labels(name),
            "fields": list(fields)}


@dataclass(frozen=True)
class Spec:
    """A `PackSpec` as the packs store's `InstalledPack` would give it."""

    name: str
    version: str = "1.0.0"
    module: str | None = None
    root: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    settings_schema: Mapping[str, Any] = field(default_factory=lambda: {
        "type": "object", "properties": {}})
    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)


def write_pack(root: Path, name: str, source: str, *, files: Mapping[str, str] | None = None
               ) -> Spec:
    """A folder pack whose module (a fresh, unique name) holds `source`."""
    module = f"{name}_{uuid.uuid4().hex[:8]}"
    package = root / name / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(source))
    for relative, text in (files or {}).items():
        (package / relative).write_text(textwrap.dedent(text))
    return Spec(name=name, module=module, root=root / name)


COMPANY = entity("company", field_def("name", required=True), field_def("country"))
DEAL = entity("deal", field_def("title", required=True),
              field_def("company", "reference", entity="company", on_delete="restrict"))
LINE = entity(
    "line",
    field_def("deal", "reference", entity="deal", on_delete="cascade"),
    field_def("quantity", "decimal", scale=3),
    field_def("price", "decimal", scale=2),
    field_def("total", "decimal", scale=2, read_only=True),
    field_def("note"),
)
ALL = {"read": "all", "create": "all", "update": "all", "delete": "all", "export": "none"}
CLERK = role("clerk", entities={"company": ALL, "deal": ALL, "line": ALL})


def pack_role(name: str, **entities: Mapping[str, str]) -> dict[str, Any]:
    """The role document the lifecycle generates from a pack's `permissions`."""
    return {"kind": "role", "name": f"pack_{name}", "version": 1,
            "label": labels(f"Pack {name}"), "entities": dict(entities)}


def grants(*operations: str) -> dict[str, str]:
    return {op: ("all" if op in operations else "none")
            for op in ("read", "create", "update", "delete", "export")}


class PackWorld:
    """The app, its client, and the JWT headers of the clerk `ann`."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.client: FlaskClient = web.client
        web.create_user("ann", "clerk")
        self.clerk = bearer(web.login("ann"))

    @property
    def services(self) -> Services:
        services: Services = self.web.app.extensions[RUNTIME_KEY].services
        return services

    @property
    def host(self) -> PackHost:
        return self.services.packs

    def post(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> Any:
        return self.client.post(path, json=body,
                                headers=self.clerk if headers is None else headers)

    def create(self, entity_name: str, **values: Any) -> dict[str, Any]:
        response = self.post(f"/api/v1/records/{entity_name}", values)
        assert response.status_code == 201, response.get_json()
        record: dict[str, Any] = response.get_json()["data"]
        return record


@contextmanager
def open_world(database_url: str, root: Path, *extra: Mapping[str, Any]) -> Iterator[PackWorld]:
    """The app with company/deal/line and a clerk `ann` who may do anything with them;
    `extra`: more documents (pack roles)."""
    documents = (role("boss", admin=True), CLERK, COMPANY, DEAL, LINE, *extra)
    with open_web(database_url, root, roles=documents,
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        yield PackWorld(web)


CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def sign_in(world: PackWorld, username: str) -> FlaskClient:
    """A client with `username`'s screen session (login page with its CSRF token)."""
    client = world.web.app.test_client()
    page = client.get("/app/login").get_data(as_text=True)
    token = CSRF.search(page)
    assert token, "no CSRF token on the login page"
    response = client.post("/app/login", data={"csrf_token": token.group(1),
                                               "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client
