"""`GET /api/v1/records/<entity>/<id>/timeline`: the record's activity feed — audit changes
and transitions, the notes and meetings about it, those of a company's people — newest
first, filtered by kind, paged by cursor; every item through the access layer.

The permission-matrix rows for timeline items are `test_the_timeline_shows_exactly_*`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from database_harness import postgres_schema, schema_url
from web_harness import Web, bearer, open_web, role

LABEL = {"en": "Thing", "ru": "Штука"}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": LABEL, **options}


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": LABEL,
            "fields": list(fields), **extra}


DOCUMENTS = [
    entity("company", field("name", required=True), title_field="name"),
    entity("person", field("name", required=True),
           field("company", "reference", entity="company", on_delete="set_null"),
           title_field="name"),
    entity("note", field("subject"), field("secret"),
           field("regarding", "regarding", entities=["person", "company"], indexed=True)),
    entity("meeting", field("subject"),
           field("regarding", "regarding", entities=["company"], indexed=True)),
    entity("participant", field("meeting", "reference", entity="meeting", on_delete="cascade"),
           field("contact", "regarding", entities=["person"])),
]
READ_ALL = {"read": "all", "create": "all", "update": "all"}
ROLES = [
    role("boss", admin=True),
    role("rep", entities={"company": READ_ALL, "person": READ_ALL, "meeting": READ_ALL,
                          "participant": READ_ALL,
                          "note": {"read": "own", "create": "all", "update": "own",
                                   "fields": {"secret": "hidden"}}}),
    role("noteless", entities={"company": READ_ALL, "person": READ_ALL}),
    role("outsider", entities={"note": READ_ALL}),
]
SECRET = "SECRET-VALUE"


class World:
    def __init__(self, web: Web) -> None:
        self.web = web
        web.create_user("root", "boss")
        self.tokens = {"root": bearer(web.login("root"))}
        for user in ("rep", "noteless", "outsider"):
            web.create_user(user, user)
            self.tokens[user] = bearer(web.login(user))
        rep_id = self.user_id("rep")
        self.acme = self.post("company", {"name": "Acme"})
        self.pat = self.post("person", {"name": "Pat", "company": self.acme})
        self.quinn = self.post("person", {"name": "Quinn"})
        self.notes = {
            "own": self.post("note", {"subject": "about Acme", "secret": SECRET,
                                      "owner": rep_id,
                                      "regarding": {"entity": "company", "id": self.acme}}),
            "pat": self.post("note", {"subject": "about Pat",
                                      "regarding": {"entity": "person", "id": self.pat}}),
            "quinn": self.post("note", {"subject": "about Quinn",
                                        "regarding": {"entity": "person", "id": self.quinn}}),
        }
        self.meeting = self.post("meeting", {"subject": "kick-off"})
        self.post("participant", {"meeting": self.meeting,
                                  "contact": {"entity": "person", "id": self.pat}})
        for change in ("changed", "changed again"):  # two changes rep may not see
            response = web.client.patch(f"/api/v1/records/note/{self.notes['own']}",
                                        json={"secret": f"{SECRET}, {change}"},
                                        headers=self.tokens["root"])
            assert response.status_code == 200, response.get_json()
        response = web.client.patch(f"/api/v1/records/company/{self.acme}",
                                    json={"name": "Acme Ltd"}, headers=self.tokens["root"])
        assert response.status_code == 200, response.get_json()

    def user_id(self, username: str) -> str:
        with self.web.app.app_context():
            sm = self.web.identity.appbuilder.sm
            return str(sm.find_user(username=username).id)

    def post(self, entity_name: str, payload: dict[str, Any]) -> str:
        response = self.web.client.post(f"/api/v1/records/{entity_name}", json=payload,
                                        headers=self.tokens["root"])
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def timeline(self, user: str, entity_name: str, record_id: str, query: str = "",
                 status: int = 200) -> Any:
        response = self.web.client.get(
            f"/api/v1/records/{entity_name}/{record_id}/timeline{query}",
            headers=self.tokens[user])
        assert response.status_code == status, response.get_json()
        return response.get_json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("timeline")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 't.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        web = stack.enter_context(open_web(url, root, roles=[*DOCUMENTS, *ROLES]))
        yield World(web)


def items(page: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, what) per entry: a record's subject, or a change's action."""
    return [(e["kind"], e["record"].get("subject") if "record" in e else e["action"])
            for e in page["data"]]


def test_a_companys_timeline_has_its_changes_and_its_peoples_activities(
        world: World) -> None:
    page = world.timeline("root", "company", world.acme)

    assert items(page) == [("change", "updated"), ("note", "about Pat"),
                           ("note", "about Acme"), ("change", "created")]
    assert page["next_cursor"] is None
    assert page["kinds"] == ["change", "transition", "meeting", "note"]
    update = page["data"][0]
    assert update["changes"] == [{"field": "name", "old": "Acme", "new": "Acme Ltd"}]
    assert update["actor"] == world.user_id("root")


def test_a_persons_timeline_has_the_meetings_they_attend(world: World) -> None:
    page = world.timeline("root", "person", world.pat)

    assert items(page) == [("meeting", "kick-off"), ("note", "about Pat"),
                           ("change", "created")]


@pytest.mark.parametrize(("user", "expected"), [
    ("root", {("note", "about Acme"), ("note", "about Pat")}),
    ("rep", {("note", "about Acme")}),
    ("noteless", set()),
])
def test_the_timeline_shows_exactly_the_activities_the_user_may_read(
        world: World, user: str, expected: set[tuple[str, str]]) -> None:
    page = world.timeline(user, "company", world.acme)

    assert {item for item in items(page) if item[0] == "note"} == expected
    assert ("change", "updated") in items(page)
    assert (SECRET in str(page)) == (user == "root")


def test_the_timeline_shows_exactly_the_fields_the_user_may_read(world: World) -> None:
    mine = world.notes["own"]

    root = world.timeline("root", "note", mine)["data"][-1]
    rep = world.timeline("rep", "note", mine)["data"][-1]

    assert {c["field"] for c in root["changes"]} >= {"subject", "secret"}
    assert "secret" not in {c["field"] for c in rep["changes"]}


def test_a_change_of_hidden_fields_only_is_not_on_the_timeline_and_paging_goes_on(
        world: World) -> None:
    mine = world.notes["own"]

    root = world.timeline("root", "note", mine)
    rep = world.timeline("rep", "note", mine, "?limit=1")

    assert items(root) == [("change", "updated"), ("change", "updated"), ("change", "created")]
    assert items(rep) == [("change", "created")]  # reached past the hidden changes
    assert rep["next_cursor"] is None


@pytest.mark.parametrize(("user", "entity_name", "record", "status"), [
    ("rep", "note", "pat", 404),         # a note outside the read scope: as if missing
    ("outsider", "company", "acme", 403),  # an entity the roles do not read
    ("root", "company", "missing", 404),
])
def test_the_timeline_of_a_record_the_user_may_not_read_is_refused(
        world: World, user: str, entity_name: str, record: str, status: int) -> None:
    record_id = {"pat": world.notes["pat"], "acme": world.acme,
                 "missing": "01900000-0000-7000-8000-000000000000"}[record]

    world.timeline(user, entity_name, record_id, status=status)


def test_pages_by_cursor_cover_the_timeline_once(world: World) -> None:
    whole = world.timeline("root", "company", world.acme)["data"]
    seen: list[dict[str, Any]] = []
    query = "?limit=1"
    while True:
        page = world.timeline("root", "company", world.acme, query)
        seen += page["data"]
        if page["next_cursor"] is None:
            break
        query = f"?limit=1&cursor={page['next_cursor']}"

    assert [e["id"] for e in seen] == [e["id"] for e in whole]


def test_the_kind_filter(world: World) -> None:
    notes = world.timeline("root", "company", world.acme, "?kind=note")
    both = world.timeline("root", "company", world.acme, "?kind=note,change&limit=2")

    assert {kind for kind, _ in items(notes)} == {"note"}
    assert len(notes["data"]) == 2
    assert [kind for kind, _ in items(both)] == ["change", "note"]
    unknown = world.timeline("root", "company", world.acme, "?kind=email")
    assert unknown["data"] == [] and "note" in unknown["kinds"]


@pytest.mark.parametrize(("query", "pointer"), [
    ("?" + "&".join(f"kind=k{n}" for n in range(21)), "/kind"),
    ("?cursor=nonsense", "/cursor"),
    ("?limit=0", "/limit"),
    ("?limit=101", "/limit"),
    ("?limit=ten", "/limit"),
    ("?colour=red", "/colour"),
])
def test_bad_parameters_are_problems_naming_them(world: World, query: str,
                                                 pointer: str) -> None:
    problem = world.timeline("root", "company", world.acme, query, status=422)

    assert pointer in {error["pointer"] for error in problem["errors"]}


def test_the_openapi_document_describes_the_timeline(world: World) -> None:
    document = world.web.client.get("/api/v1/openapi.json",
                                    headers=world.tokens["root"]).get_json()

    operation = document["paths"]["/api/v1/records/company/{id}/timeline"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"kind", "cursor", "limit"}
    assert "TimelinePage" in document["components"]["schemas"]
