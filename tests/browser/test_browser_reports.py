"""The report screen in a real browser, with the shipped packs: the chart (vendored Chart.js)
draws, a sales rep and a sales manager see different totals for the same report — each
their own scope — and the page fits a 390 px phone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from browser_harness import Browser, Page, Server, new_context, shipped_server, sign_in

REP, MANAGER = "rita", "max"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        server.create_user(REP, "sales_rep")
        server.create_user(MANAGER, "sales_manager")
        company = server.create_record(REP, "company", {"name": "Initech"})
        for owner in (REP, "admin"):
            server.create_record(owner, "deal", {
                "title": f"Report deal {uuid.uuid4().hex[:6]}", "company": company["id"],
                "amount": {"amount": "500", "currency": "USD"}})
        yield server


def total_deals(page: Page) -> str:
    return page.locator("tr.report-total td.number").first.inner_text().strip()


def chart_drawn(page: Page) -> bool:
    return bool(page.evaluate("""() => { const canvas = document.querySelector(
        "canvas[data-report-chart]"); return Boolean(canvas && window.Chart
        && window.Chart.getChart(canvas)); }"""))


@pytest.mark.parametrize(("user", "deals"), [(REP, "1"), (MANAGER, "2")])
def test_each_user_sees_the_chart_and_their_own_totals(chromium: Browser, server: Server,
                                                       user: str, deals: str) -> None:
    context = new_context(chromium, server)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, user)
        page.goto("/app/reports")
        page.locator("[data-report=deals_by_stage] a").click()
        page.wait_for_load_state("networkidle")

        assert total_deals(page) == deals
        assert chart_drawn(page)
        assert errors == []
    finally:
        context.close()


def test_the_report_page_fits_a_phone(chromium: Browser, server: Server) -> None:
    context = new_context(chromium, server, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, MANAGER)
        page.goto("/app/reports/deals_by_stage")
        page.wait_for_load_state("networkidle")

        assert chart_drawn(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
