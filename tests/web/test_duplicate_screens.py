"""Duplicates and merges on the screens: a blocked form shows the "possible duplicates"
panel linking only what the user may read, a warned save lands on a record page with the
panel, the merge screen merges side by side and the record page undoes it, and the review
screen lists the groups."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

import metacrm.web.record_form
import metacrm.web.record_merge
import metacrm.web.record_page  # noqa: F401
from web_harness import role

OWN = {"read": "own", "create": "all", "update": "own", "delete": "own"}

DOCUMENTS = [
    entity("person", field("last_name", required=True), field("email", "email"),
           field("city"), title="{last_name}"),
    {"kind": "duplicate_rule", "name": "person_by_email", "version": 1,
     "label": labels("By email"), "entity": "person", "action": "block",
     "conditions": [{"field": "email", "normalise": ["email"]}]},
    {"kind": "duplicate_rule", "name": "person_by_name", "version": 1,
     "label": labels("By name"), "entity": "person", "action": "warn",
     "conditions": [{"field": "last_name"}]},
    role("rep", entities={"person": OWN}),
]


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Screens]:
    import os

    from database_harness import postgres_schema, schema_url

    root = tmp_path_factory.mktemp("dupe_screens")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, \
                open_screens(schema_url(url, schema), root, *DOCUMENTS) as opened:
            yield opened
    else:
        with open_screens(url, root, *DOCUMENTS) as opened:
            yield opened


@pytest.fixture(scope="module")
def rita(screens: Screens) -> Browser:
    return screens.user("rita", "rep")


@pytest.fixture(scope="module")
def boss(screens: Screens) -> Browser:
    return screens.user("bob", "boss")


def created(browser: Browser, data: dict[str, str]) -> str:
    response = browser.post("/app/r/person/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"].rsplit("/", 1)[1])


def panel(page: str) -> str:
    found = re.search(r"<section [^>]*data-duplicates-panel.*?</section>", page, re.S)
    return found.group(0) if found else ""


def test_a_blocked_form_shows_the_panel_with_readable_matches_only(
        rita: Browser, boss: Browser) -> None:
    mine = created(rita, {"last_name": "Mine", "email": "mine@screen.example"})
    created(boss, {"last_name": "Secret", "email": "secret@screen.example"})

    refused = rita.post("/app/r/person/new", {"last_name": "Again",
                                              "email": "MINE@screen.example"})
    hidden = rita.post("/app/r/person/new", {"last_name": "Other",
                                             "email": "secret@screen.example"})

    assert refused.status_code == 409
    shown = panel(refused.get_data(as_text=True))
    assert f'href="/app/r/person/{mine}"' in shown and 'data-duplicates-panel="block"' in shown
    hidden_panel = panel(hidden.get_data(as_text=True))
    assert "data-duplicates-hidden" in hidden_panel
    assert "Secret" not in hidden.get_data(as_text=True)


def test_a_warned_save_goes_through_and_the_record_page_links_the_match(
        rita: Browser) -> None:
    first = created(rita, {"last_name": "Warned"})

    second = created(rita, {"last_name": "warned"})

    page = panel(rita.text(f"/app/r/person/{second}"))
    assert f'href="/app/r/person/{first}"' in page
    assert f"/app/r/person/merge?ids={second}&amp;ids={first}" in page


def test_the_merge_screen_merges_side_by_side_and_the_record_page_undoes_it(
        rita: Browser) -> None:
    a = created(rita, {"last_name": "Side", "city": "Rome"})
    b = created(rita, {"last_name": "side", "email": "side@screen.example", "city": "Oslo"})

    screen = rita.text(f"/app/r/person/merge?ids={a}&ids={b}")
    merged = rita.post("/app/r/person/merge", {"ids": [a, b], "survivor": a,
                                                "value.city": b, "value.email": b,
                                                "value.last_name": a})

    assert 'data-merge-field="city"' in screen
    assert merged.status_code == 302, merged.get_data(as_text=True)[:2000]
    page = rita.text(f"/app/r/person/{a}")
    assert 'data-field="city"' in page and "Oslo" in page
    assert rita.get(f"/app/r/person/{b}").status_code == 404
    undo = re.search(r'action="(/app/r/person/merges/[^"]+/undo)"', page)
    assert undo
    assert rita.post(undo.group(1)).status_code == 302
    assert "Rome" in rita.text(f"/app/r/person/{a}")
    assert rita.get(f"/app/r/person/{b}").status_code == 200


def test_the_review_screen_lists_groups_of_readable_duplicates(rita: Browser,
                                                               boss: Browser) -> None:
    created(rita, {"last_name": "Group"})
    created(rita, {"last_name": "GROUP"})
    created(boss, {"last_name": "group"})

    before = rita.text("/app/r/person/duplicates")  # no scan yet: groups found now
    started = rita.post("/app/r/person/duplicates/scan")
    page = rita.text("/app/r/person/duplicates")
    as_boss = boss.text("/app/r/person/duplicates")

    assert started.status_code == 302
    assert 'data-scan-status="done"' in page and "data-scan-status" not in before

    rita_group = re.search(r'<li data-duplicate-group="person_by_name">(.*?)</li>', page, re.S)
    assert rita_group and rita_group.group(1).count('href="/app/r/person/0') == 2
    assert as_boss.count("Group") + as_boss.count("GROUP") + as_boss.count("group") >= 3
