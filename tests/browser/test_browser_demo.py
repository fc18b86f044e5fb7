"""`metacrm demo` — the README's first command — opens a working CRM, and the screenshots
of its main screens that the README shows.

The screenshots are taken on every run (so the walk through the screens is tested in CI),
but written to docs/screenshots/ only when METACRM_SCREENSHOTS=1 is set, so that a test run
never changes the checkout:

    METACRM_SCREENSHOTS=1 pytest tests/browser/test_browser_demo.py
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import (
    DEMO_PASSWORD,
    REPOSITORY,
    Browser,
    Page,
    Server,
    expect,
    new_context,
    shipped_server,
    sign_in,
)

SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
SCREENS = ("login", "home", "list", "record", "form", "kanban", "designer", "list-ru")


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory, demo=True) as server:
        yield server


def test_the_demo_opens_a_working_crm_with_its_data(page: Page) -> None:
    sign_in(page, "ivan", DEMO_PASSWORD)

    for entity in ("lead", "deal", "company", "person", "task"):
        expect(page.locator(f"[data-nav-entity={entity}]")).to_be_visible()
    page.locator("[data-nav-entity=deal]").click()
    expect(page.locator("tr[data-record-id]").first).to_be_visible()
    page.goto("/app/r/deal/board")
    expect(page.locator("[data-card-id]").first).to_be_visible()


def test_screenshots_of_the_main_screens(page: Page, chromium: Browser, server: Server,
                                        tmp_path: Path) -> None:
    shots: list[Path] = []

    def shoot(name: str, on: Page = page) -> None:
        on.wait_for_load_state("networkidle")
        path = tmp_path / f"{name}.png"
        on.screenshot(path=str(path))
        shots.append(path)

    page.goto("/app/login")
    page.fill("#username", "admin")
    shoot("login")
    sign_in(page, "admin", DEMO_PASSWORD)
    shoot("home")
    page.locator("[data-nav-entity=deal]").click()
    expect(page.locator("tr[data-record-id]").first).to_be_visible()
    shoot("list")
    page.locator("tr[data-record-id] [data-record-link]").first.click()
    expect(page.locator("[data-record]")).to_be_visible()
    shoot("record")
    page.locator("[data-action=edit]").click()
    expect(page.locator("[data-record-form]")).to_be_visible()
    shoot("form")
    page.goto("/app/r/deal/board")
    expect(page.locator("[data-card-id]").first).to_be_visible()
    shoot("kanban")
    page.goto("/app/admin/entities/deal")
    expect(page.locator("[data-designer-field]").first).to_be_visible()
    shoot("designer")

    russian = new_context(chromium, server, locale="ru-RU")
    try:
        olga = russian.new_page()
        sign_in(olga, "olga", DEMO_PASSWORD)
        olga.select_option("#language-select", "ru")
        expect(olga.get_by_role("button", name="Выйти")).to_be_visible()
        olga.locator("[data-nav-entity=lead]").click()
        expect(olga.locator("h1")).to_contain_text("Лиды")
        shoot("list-ru", olga)
    finally:
        russian.close()

    assert {path.stem: path.stat().st_size > 10_000 for path in shots} == dict.fromkeys(
        SCREENS, True)
    if os.environ.get("METACRM_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copyfile(path, SCREENSHOTS / path.name)
