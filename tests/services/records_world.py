"""A small CRM for records-service tests: companies and deals, four kinds of roles, teams.

`deal_line` (referring to deals, on_delete cascade) is listed by no role but admin.
Teams: `east` with sub-team `east_sub`, and `west`. Users: `rep1` (east), `rep2` (east_sub),
`rep3` (west), `lead` (east). Roles:
* `rep` — deals: own for every operation; `margin` and `internal_code` hidden, `discount`
  read-only; companies: read all with the rule region = eu, `secret_note` hidden;
* `lead` — deals: read and update team, create all, export own, no delete; companies: read
  all;
* `auditor` — deals: read all with the rule region = eu, nothing else; no companies;
* `admin` — `"admin": true`; `nobody` — lists nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.access.teams import TeamDirectory
from metacrm.fieldtypes import default_registry
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.service import RecordsService

LABEL = {"en": "Label", "ru": "Метка"}
EU_ONLY = {"field": "region", "op": "eq", "value": "eu"}
REGIONS = [{"value": "eu", "label": LABEL}, {"value": "us", "label": LABEL}]


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": LABEL,
            "plural_label": LABEL, "fields": list(fields), **extra}


def role(name: str, **body: Any) -> dict[str, Any]:
    return {"kind": "role", "name": name, "version": 1, "label": LABEL, **body}


ALL_OPS = {"read": "own", "create": "own", "update": "own", "delete": "own"}

DOCUMENTS: list[dict[str, Any]] = [
    entity(
        "company",
        field("name", "text", required=True, indexed=True),
        field("region", "picklist", choices=REGIONS),
        field("secret_note", "text"),
        search_fields=["name"],
    ),
    entity(
        "deal",
        field("title", "text", required=True, indexed=True),
        field("amount", "decimal", indexed=True),
        field("region", "picklist", choices=REGIONS),
        field("company", "reference", entity="company"),
        field("discount", "percent"),
        field("margin", "decimal", indexed=True),
        field("internal_code", "text"),
        field("value", "money", currency="EUR"),
        field("stage", "state", pipeline="deal_flow"),
        search_fields=["title", "internal_code"],
    ),
    entity(
        "deal_line",
        field("label", "text"),
        field("deal", "reference", entity="deal", on_delete="cascade"),
    ),
    {"kind": "pipeline", "name": "deal_flow", "version": 1, "label": LABEL, "entity": "deal",
     "states": [{"name": "new", "label": LABEL}, {"name": "won", "label": LABEL}],
     "transitions": [{"name": "win", "label": LABEL, "from": ["new"], "to": "won"}]},
    role("rep", entities={
        "deal": {**ALL_OPS, "fields": {"margin": "hidden", "internal_code": "hidden",
                                       "discount": "read_only"}},
        "company": {"read": "all", "rules": [EU_ONLY], "fields": {"secret_note": "hidden"}},
    }),
    role("lead", entities={
        "deal": {"read": "team", "update": "team", "create": "all", "export": "own"},
        "company": {"read": "all"},
    }),
    role("auditor", entities={"deal": {"read": "all", "rules": [EU_ONLY]}}),
    role("admin", admin=True),
    role("nobody"),
]

TEAM_OF = {"rep1": "east", "rep2": "east_sub", "rep3": "west", "lead": "east"}
ROLES_OF = {"rep1": ("rep",), "rep2": ("rep",), "rep3": ("rep",), "lead": ("lead",),
            "auditor": ("auditor",), "admin": ("admin",), "nobody": ("nobody",)}


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    roles: tuple[str, ...]
    is_admin: bool = False


def documents(bodies: list[dict[str, Any]] | None = None) -> list[Document]:
    return [Document.from_body(body, source=f"{body['name']}.json", pack="test")
            for body in (bodies if bodies is not None else DOCUMENTS)]


class World:
    """The services over one fresh database, with teams set up."""

    def __init__(self, engine: sa.Engine, bodies: list[dict[str, Any]] | None = None) -> None:
        self.engine = engine
        self.registry = default_registry()
        self.metadata = MetadataService(engine, self.registry)
        self.metadata.initialize()
        self.metadata.apply(documents(bodies), author="test")
        self.teams = TeamDirectory(engine)
        self.teams.initialize()
        self.records = RecordsService(engine, self.metadata, self.registry, self.teams)
        with engine.begin() as conn:
            self.teams.create_team(conn, "east")
            self.teams.create_team(conn, "east_sub", parent="east")
            self.teams.create_team(conn, "west")
            for user, team in TEAM_OF.items():
                self.teams.add_member(conn, team, user)

    def subject(self, user: str, roles: tuple[str, ...] | None = None) -> AccessSubject:
        return self.records.subject_for(Actor(user, user, roles or ROLES_OF[user]))

    @property
    def admin(self) -> AccessSubject:
        return self.subject("admin")
