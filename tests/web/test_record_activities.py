"""The record page's activities: "Log a call", "Schedule a meeting", "Add a note" open the
create form about this record in one click (only what the user may create), and the
timeline — the same service as the API's — shows them, filtered by kind and paged."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from screen_harness import Screens, entity, field, labels, open_screens

from database_harness import postgres_schema, schema_url
from web_harness import bearer, role

ABOUT = {"type": "regarding", "label": labels("Regarding"), "entities": ["company"],
         "indexed": True}
COMPANY = entity("company", field("name", required=True), title_field="name")
CALL = entity("call", field("subject", required=True), {"name": "regarding", **ABOUT},
              title_field="subject", group="communications")
MEETING = entity("meeting", field("subject", required=True), {"name": "regarding", **ABOUT},
                 title_field="subject", group="communications")
NOTE = entity("note", field("body", "textarea", required=True), {"name": "regarding", **ABOUT},
              group="communications")
TASK = entity("task", field("subject"), {"name": "regarding", **ABOUT}, title_field="subject")
ALL = {"read": "all", "create": "all", "update": "all"}
ROLES = (
    role("rep", entities={"company": ALL, "call": ALL, "meeting": ALL, "task": ALL,
                          "note": {"read": "all", "create": "none"}}),
    role("intern", entities={"company": ALL, "call": {"read": "own", "create": "all"}}),
)


class World:
    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        screens.web.create_user("root", "boss")
        screens.web.create_user("rita", "rep")
        screens.web.create_user("ian", "intern")
        self.token = bearer(screens.web.login("root"))
        self.acme = self.api("company", {"name": "Acme"})
        about = {"entity": "company", "id": self.acme}
        self.api("note", {"body": "Prefers email before noon.", "regarding": about})
        self.api("call", {"subject": "Intro call", "regarding": about})

    def api(self, entity_name: str, payload: dict[str, Any]) -> str:
        response = self.screens.web.client.post(f"/api/v1/records/{entity_name}",
                                                json=payload, headers=self.token)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("activities")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'a.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        screens = stack.enter_context(open_screens(url, root, COMPANY, CALL, MEETING, NOTE,
                                                   TASK, *ROLES))
        yield World(screens)


def quick_actions(page: str) -> dict[str, str]:
    return {kind: html.unescape(url) for url, kind in re.findall(
        r'<a class="button" href="([^"]+)" data-quick-action="(\w+)">', page)}


def timeline_kinds(page: str) -> list[str]:
    return re.findall(r'<li data-timeline-kind="(\w+)">', page)


def test_one_click_opens_the_create_form_about_this_record(world: World) -> None:
    rita = world.screens.sign_in("rita")

    page = rita.text(f"/app/r/company/{world.acme}")

    actions = quick_actions(page)
    assert set(actions) == {"call", "meeting"}  # no note: rita may not create one; no task
    assert "Log a call" in page and "Schedule a meeting" in page
    assert actions["call"] == (f"/app/r/call/new?regarding.entity=company&"
                               f"regarding.id={world.acme}")
    form = rita.text(actions["call"])
    assert world.acme in form


def test_the_timeline_shows_the_activities_about_the_record_linked(world: World) -> None:
    rita = world.screens.sign_in("rita")

    page = rita.text(f"/app/r/company/{world.acme}")

    assert timeline_kinds(page) == ["call", "note", "created"]
    assert re.search(r'<a href="/app/r/call/[0-9a-f-]+" data-timeline-record>Intro call</a>',
                     page)
    assert "Prefers email before noon." in page  # a note without a title: its text


def test_the_page_timeline_shows_only_what_the_user_may_read(world: World) -> None:
    ian = world.screens.sign_in("ian")

    page = ian.text(f"/app/r/company/{world.acme}")

    assert timeline_kinds(page) == ["created"]  # root's call is not his; notes not his role
    assert "Intro call" not in page and "Prefers email" not in page
    assert set(quick_actions(page)) == {"call"}


def test_the_timeline_filters_by_kind_and_pages(world: World) -> None:
    rita = world.screens.sign_in("rita")

    calls = rita.text(f"/app/r/company/{world.acme}?timeline_kind=call")
    nonsense = rita.text(f"/app/r/company/{world.acme}?timeline_kind=fax&timeline_cursor=x")

    assert timeline_kinds(calls) == ["call"]
    assert 'data-timeline-filter="call" aria-current="true"' in calls
    assert timeline_kinds(nonsense) == ["call", "note", "created"]


def test_the_buttons_speak_russian(world: World) -> None:
    rita = world.screens.sign_in("rita")
    assert rita.post("/app/language", {"language": "ru", "next": "/app/"}).status_code == 302

    page = rita.text(f"/app/r/company/{world.acme}")

    assert "Записать звонок" in page and "Назначить встречу" in page
    assert "Всё" in page
