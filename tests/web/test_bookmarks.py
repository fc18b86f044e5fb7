"""Recent records and favourites in the navigation: a record page puts the record under
Recent (by title), the star toggle adds it to Favourites and takes it out again, and a
record the user can no longer read leaves both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_harness import Browser, Screens, entity, field, open_screens

import metacrm.web.bookmarks
import metacrm.web.record_form
import metacrm.web.record_page  # noqa: F401  (make the blueprints before the app is built)
from web_harness import role

OWN = {"read": "own", "create": "all", "update": "own", "delete": "own"}
DEAL = entity("deal", field("title", required=True), title_field="title")
DOCUMENTS = (DEAL, role("rep", entities={"deal": OWN}))


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as opened:
        yield opened


def created(browser: Browser, title: str) -> str:
    response = browser.post("/app/r/deal/new", {"title": title})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def nav(page: str, key: str) -> list[tuple[str, str]]:
    """(href, title) of the links in a navigation section ([] when it is not shown)."""
    found = page.split(f'data-nav-bookmarks="{key}"', 1)
    if len(found) == 1:
        return []
    section = found[1].split("</section>", 1)[0]
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', section)


def test_opened_records_are_listed_newest_first_by_title(screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    big, small = created(rita, "Big deal"), created(rita, "Small deal")
    assert nav(rita.text("/app/"), "recent") == []
    rita.text(f"/app/r/deal/{big}")
    rita.text(f"/app/r/deal/{small}")
    assert nav(rita.text("/app/"), "recent") == [
        (f"/app/r/deal/{small}", "Small deal"), (f"/app/r/deal/{big}", "Big deal")]
    assert nav(screens.user("olga", "rep").text("/app/"), "recent") == []  # her own


def test_the_star_toggles_a_favourite(screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    big = created(rita, "Big deal")
    page = rita.text(f"/app/r/deal/{big}")
    assert 'data-star="off"' in page and nav(page, "favourites") == []

    assert rita.post(f"/app/r/deal/{big}/star", {"starred": "1"}).status_code == 302

    page = rita.text(f"/app/r/deal/{big}")
    assert 'data-star="on"' in page
    assert nav(page, "favourites") == [(f"/app/r/deal/{big}", "Big deal")]
    rita.post(f"/app/r/deal/{big}/star", {"starred": "0"})
    assert nav(rita.text("/app/"), "favourites") == []


def test_a_record_no_longer_readable_leaves_the_navigation(screens: Screens) -> None:
    boss = screens.user("bea", "boss")
    rita = screens.user("rita", "rep")
    big = created(rita, "Big deal")
    rita.text(f"/app/r/deal/{big}")
    rita.post(f"/app/r/deal/{big}/star", {"starred": "1"})

    assert boss.post(f"/app/r/deal/{big}/delete", {"_version": "1"}).status_code == 302

    page = rita.text("/app/")
    assert nav(page, "recent") == [] and nav(page, "favourites") == []
    assert "Big deal" not in page
    olga = screens.user("olga", "rep")
    mine = created(olga, "Olga's deal")
    assert rita.post(f"/app/r/deal/{mine}/star", {"starred": "1"}).status_code == 404
