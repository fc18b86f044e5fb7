"""The global search screens: the results page (works without scripts), the top bar's box
on every screen and its JSON answer for results as you type, in English and Russian."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

COMPANY = {**entity("company", field("name", required=True, indexed=True), field("note"),
                    title_field="name", search_fields=["name", "note"]),
           "plural_label": labels("Companies", "Компании")}


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, COMPANY) as screens:
        yield screens


def add(browser: Browser, name: str, note: str = "") -> str:
    response = browser.post("/app/r/company/new", {"name": name, "note": note})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"].rsplit("/", 1)[-1]


def hit_titles(page: str) -> list[str]:
    section = page.split('data-search-entity="company"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<li><a href="/app/r/company/[^"]+">([^<]+)</a></li>', section)


def test_the_results_page_ranks_titles_and_links_to_the_full_list(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    for name, note in (("Zeta", "acme reseller"), ("The Acme Shop", ""), ("Acme Corp", ""),
                       ("Acme", ""), ("Other", "")):
        add(admin, name, note)
    page = admin.text("/app/search?q=acme")
    assert "<h2>Companies</h2>" in page
    assert hit_titles(page) == ["Acme", "Acme Corp", "The Acme Shop", "Zeta"]
    assert "Show all" not in page  # the page shows up to ten per entity
    for index in range(3):
        add(admin, f"Acme {index}")
    answer = admin.get("/app/search?q=acme&format=json").get_json()
    (group,) = answer["groups"]
    assert [hit["title"] for hit in group["hits"]] == [
        "Acme", "Acme 0", "Acme 1", "Acme 2", "Acme Corp"]
    assert group["more"] == {"text": "Show all (7)", "href": "/app/r/company?q=acme"}
    assert answer["all"]["href"] == "/app/search?q=acme"
    listed = admin.text(group["more"]["href"])
    assert "The Acme Shop" in listed and "Other" not in listed


def test_short_text_is_refused_beside_the_field_in_the_users_language(
        screens: Screens) -> None:
    admin = screens.user("root", "boss")
    page = admin.text("/app/search?q=a")
    assert 'aria-invalid="true"' in page
    assert "Type 2 to 200 characters." in page
    assert admin.get("/app/search?q=a&format=json").get_json()["error"] == (
        "Type 2 to 200 characters.")
    assert admin.post("/app/language", {"language": "ru", "next": "/app/"}).status_code == 302
    assert "Введите от 2 до 200 символов." in admin.text("/app/search?q=a")
    assert "По запросу «zz» ничего не найдено." in admin.text("/app/search?q=zz")
    assert 'placeholder="Поиск (Ctrl+K)"' in admin.text("/app/")


def test_every_screen_has_the_search_box_without_inline_script(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    for path in ("/app/", "/app/r/company", "/app/notifications"):
        page = admin.text(path)
        box = re.search(r'<form class="global-search"[^>]*action="/app/search"', page)
        assert box, path
        assert 'name="q"' in page and 'aria-keyshortcuts="Control+K Meta+K"' in page
        assert re.search(r'<script type="module" src="[^"]*/search\.js"', page), path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
    script = admin.get("/app/static/search.js")
    script.close()
    assert script.status_code == 200
    anonymous = screens.anonymous()
    assert 'class="global-search"' not in anonymous.text("/app/login")
    assert anonymous.get("/app/search?q=acme").status_code == 302
