"""Permission matrix of the knowledge base's read paths: who sees a published article and a
draft through the suggestions API, the ticket page's panel, the global search and the
public portal (anonymous). Every row is one path and one user; drafts reach only the users
whose role reads articles, and never the portal or the suggestions."""

from __future__ import annotations

import re

import pytest
from kb_harness import Kb

from web_harness import PASSWORD

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
PUBLISHED, DRAFT = "Matrix zebra published", "Matrix zebra draft"


@pytest.fixture(scope="module")
def world(kb: Kb) -> dict[str, str]:
    return {"published": kb.article(PUBLISHED, "Zebra crossing guide."),
            "draft": kb.article(DRAFT, "Zebra crossing secrets.", published=False),
            "ticket": kb.ticket("Zebra crossing question")}


def headers(kb: Kb, user: str) -> dict[str, str]:
    return {"boss": kb.admin, "kbm": kb.manager, "agent": kb.agent,
            "outsider": kb.outsider, "anonymous": {}}[user]


def seen(text: str) -> set[str]:
    return {title for title in (PUBLISHED, DRAFT) if title in text}


@pytest.mark.parametrize(("user", "expected"), [
    ("boss", {PUBLISHED}), ("agent", {PUBLISHED}), ("outsider", set()),
    ("kbm", 403),  # a knowledge manager reads no tickets
    ("anonymous", 401),
])
def test_api_suggestions(kb: Kb, world: dict[str, str], user: str,
                         expected: set[str] | int) -> None:
    response = kb.web.client.get(
        f"/api/v1/records/ticket/{world['ticket']}/suggested-articles",
        headers=headers(kb, user))
    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert seen(response.get_data(as_text=True)) == expected


@pytest.mark.parametrize(("user", "expected"), [
    ("boss", {PUBLISHED}), ("agent", {PUBLISHED}), ("outsider", set()),
])
def test_ticket_page_panel(kb: Kb, world: dict[str, str], user: str,
                           expected: set[str]) -> None:
    client = kb.web.app.test_client()
    token = _CSRF.search(client.get("/app/login").get_data(as_text=True))
    assert token
    client.post("/app/login", data={"csrf_token": token.group(1), "username": user,
                                    "password": PASSWORD})
    page = client.get(f"/app/r/ticket/{world['ticket']}")
    assert page.status_code == 200
    assert seen(page.get_data(as_text=True)) == expected


@pytest.mark.parametrize(("user", "expected"), [
    ("boss", {PUBLISHED, DRAFT}), ("kbm", {PUBLISHED, DRAFT}), ("agent", {PUBLISHED, DRAFT}),
    ("outsider", set()), ("anonymous", 401),
])
def test_global_search(kb: Kb, world: dict[str, str], user: str,
                       expected: set[str] | int) -> None:
    response = kb.web.client.get("/api/v1/search", query_string={"q": "zebra"},
                                 headers=headers(kb, user))
    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert seen(response.get_data(as_text=True)) == expected


@pytest.mark.parametrize("path", ["/portal/kb?lang=en", "/portal/kb?lang=en&q=zebra",
                                  "/portal/kb/{published}", "/portal/kb/{draft}"])
def test_portal_for_anyone(kb: Kb, world: dict[str, str], path: str) -> None:
    response = kb.web.app.test_client().get(path.format(**world))
    if "{draft}" in path:
        assert response.status_code == 404
    assert seen(response.get_data(as_text=True)) == (
        set() if "{draft}" in path else {PUBLISHED})
