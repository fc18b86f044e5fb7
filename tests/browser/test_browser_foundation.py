"""The screens' foundation in a real browser: sign in, navigation from the shipped packs,
the Russian interface, the phone-width menu and keyboard access to the login form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import (
    PASSWORD,
    PHONE,
    Browser,
    Page,
    Server,
    expect,
    new_context,
    open_page,
    shipped_server,
    sign_in,
)

SHIPPED_ENTITIES = {"lead": "Leads", "deal": "Deals", "company": "Companies",
                    "person": "People", "task": "Tasks"}


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        yield server


@pytest.fixture
def phone(chromium: Browser, server: Server, request: pytest.FixtureRequest,
          tmp_path: Path) -> Iterator[Page]:
    with open_page(chromium, server, request, tmp_path, viewport=PHONE) as page:
        yield page


def test_the_admin_signs_in_and_sees_the_shipped_entities(page: Page) -> None:
    sign_in(page)

    expect(page.locator("[data-user]")).to_have_text("admin")
    for name, plural in SHIPPED_ENTITIES.items():
        link = page.locator(f"[data-nav-entity={name}]")
        expect(link).to_have_text(plural)
        expect(link).to_have_attribute("href", f"/app/r/{name}")
    expect(page.get_by_role("link", name="Designer")).to_be_visible()


def test_a_wrong_password_is_refused_with_an_explanation(page: Page) -> None:
    page.goto("/app/login")
    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "Wrong username or password, or the account is disabled.")
    expect(page).to_have_url("/app/login")
    expect(page.locator("#username")).to_have_value("admin")
    expect(page.locator("[data-nav-entity]")).to_have_count(0)


def test_a_user_switches_to_russian_and_it_stays_their_choice(
    page: Page, chromium: Browser, server: Server
) -> None:
    server.create_user("ivan", "sales_rep")
    sign_in(page, "ivan", PASSWORD)

    page.select_option("#language-select", "ru")  # submits itself

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    expect(page.locator("[data-nav-entity=lead]")).to_have_text("Лиды")
    expect(page.locator("[data-nav-entity=deal]")).to_have_text("Сделки")
    # the choice is the user's, not the browser's: a new session in another browser profile
    # (English Accept-Language, no cookie) still speaks Russian
    other = new_context(chromium, server)
    try:
        again = other.new_page()
        sign_in(again, "ivan", PASSWORD)
        expect(again.get_by_role("button", name="Выйти")).to_be_visible()
    finally:
        other.close()


def test_at_phone_width_the_menu_button_shows_and_hides_the_navigation(phone: Page) -> None:
    sign_in(phone)
    menu = phone.get_by_role("button", name="Menu")
    leads = phone.locator("[data-nav-entity=lead]")

    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(leads).to_be_hidden()
    # the page fits the phone: nothing scrolls sideways
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(leads).to_be_visible()
    leads.click()
    expect(phone).to_have_url("/app/r/lead")


def test_the_keyboard_reaches_the_skip_link_and_signs_in(page: Page) -> None:
    page.goto("/app/login")
    username = page.locator("#username")
    skip = page.locator(".skip-link")
    expect(username).to_be_focused()  # autofocus: type at once

    # back to the top of the page with Shift+Tab: the first stop is the skip link
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('skip-link')"):
            break
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # hidden until focused, then shown
    page.keyboard.press("Enter")
    expect(page).to_have_url("/app/login#main")
    expect(page.locator("#main")).to_be_focused()

    # from the content, Tab walks the form
    page.keyboard.press("Tab")
    expect(username).to_be_focused()
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    page.wait_for_url("**/app/")
    expect(page.locator("[data-nav-entity=lead]")).to_be_visible()
