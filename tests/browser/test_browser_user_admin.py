"""Issue 11's walk of user and role administration inside the CRM's frame, in Russian: an
admin creates a user with a role, deactivates them — the user's open session ends at once —
creates a role and gives it one permission in the designer's permission matrix.

The server of this module is its own (its users and roles change as the test runs)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from browser_harness import (
    Browser,
    Page,
    Server,
    expect,
    new_context,
    shipped_server,
    sign_in,
)

USER_PASSWORD = "a-fresh-password"


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        yield server


def speak_russian(page: Page) -> None:
    page.locator("#language-select").select_option("ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")


def test_an_admin_manages_users_and_roles_in_russian(page: Page, server: Server,
                                                    chromium: Browser) -> None:
    sign_in(page)
    speak_russian(page)
    page.locator("#sidebar a[href='/app/admin/users']").click()
    expect(page.locator("h1")).to_have_text("Пользователи")
    expect(page.locator("#sidebar")).to_be_visible()  # the CRM's frame, not FAB's
    page.locator("[data-user-new]").click()

    username = f"nina_{uuid.uuid4().hex[:6]}"
    page.locator("#user-username").fill(username)
    page.locator("#user-first-name").fill("Нина")
    page.locator("#user-last-name").fill("Петрова")
    page.locator("#user-password").fill(USER_PASSWORD)
    page.locator("[data-role-choice=sales_rep]").check()
    page.get_by_role("button", name="Создать пользователя").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Пользователь «{username}» создан")
    row = page.locator(f"tr[data-user={username}]")
    expect(row).to_contain_text("Нина Петрова")
    expect(row.locator("[data-user-role=sales_rep]")).to_be_visible()

    context = new_context(chromium, server)
    try:
        nina = context.new_page()
        sign_in(nina, username, USER_PASSWORD)
        expect(nina.locator(f"[data-user={username}]")).to_be_visible()

        row.locator(f"[data-user-deactivate={username}]").click()
        expect(page.locator(".flash-success")).to_contain_text("деактивирован")
        expect(page.locator(f"tr[data-user={username}] [data-user-status]")).to_have_text(
            "Неактивен")
        nina.goto("/app/")
        expect(nina).to_have_url(re.compile(r"/app/login"))  # her open session ended
    finally:
        context.close()

    page.locator("#sidebar a[href='/app/admin/roles']").click()
    expect(page.locator("h1")).to_have_text("Роли")
    role = f"auditor_{uuid.uuid4().hex[:6]}"
    page.locator("#role-name").fill(role)
    page.locator("#role-label-en").fill("Auditor")
    page.locator("#role-label-ru").fill("Аудитор")
    page.get_by_role("button", name="Создать роль").click()
    expect(page.locator(".flash-success")).to_contain_text("матрице прав")
    expect(page.locator(f"tr[data-role={role}]")).to_contain_text("Аудитор")

    page.locator("[data-permission-matrix-link]").click()
    cell = page.locator(f"select[data-permission='{role}.lead.read']")
    cell.select_option("all")
    page.locator("[data-action=preview]").click()
    expect(page.locator("[data-change-errors]")).to_have_count(0)
    page.locator("[data-action=apply-change]").click()
    expect(page.locator(f"select[data-permission='{role}.lead.read']")).to_have_value("all")

    token = server.api_token("admin")
    document = httpx.get(f"{server.url}/api/v1/meta/role/{role}", timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
    assert document.status_code == 200, document.text
    assert document.json()["data"]["entities"]["lead"]["read"] == "all"
