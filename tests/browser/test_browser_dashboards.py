"""The shipped sales dashboard in a real browser: it is the start page, its charts draw
(vendored Chart.js, no inline script), a sales rep and a sales manager see different totals
for the same dashboard — each their own scope — a click on a bar of the pipeline funnel
opens the deal list filtered to the records behind it, and the page fits a 390 px phone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from browser_harness import Browser, Page, Server, new_context, shipped_server, sign_in

REP, MANAGER = "rita", "max"
PHONE = {"width": 390, "height": 844}
FUNNEL = "[data-widget$='-deal_pipeline_funnel']"


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        server.create_user(REP, "sales_rep")
        server.create_user(MANAGER, "sales_manager")
        company = server.create_record(REP, "company", {"name": "Initech"})
        for owner in (REP, "admin"):
            server.create_record(owner, "deal", {
                "title": f"Dashboard deal {uuid.uuid4().hex[:6]}", "company": company["id"],
                "amount": {"amount": "500", "currency": "USD"}})
        yield server


def chart_drawn(page: Page, widget: str) -> bool:
    return bool(page.evaluate("""(canvas) => Boolean(window.Chart
        && window.Chart.getChart(canvas))""", page.locator(f"{widget} canvas").element_handle()))


def click_first_bar(page: Page, widget: str) -> None:
    """Click the centre of the first bar of the widget's chart, as a user would."""
    canvas = page.locator(f"{widget} canvas")
    x, y = page.evaluate("""(canvas) => { const bar = window.Chart.getChart(canvas)
        .getDatasetMeta(0).data[0].getCenterPoint(); return [bar.x, bar.y]; }""",
                         canvas.element_handle())
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)


@pytest.mark.parametrize(("user", "deals"), [(REP, 1), (MANAGER, 2)])
def test_the_start_page_is_the_dashboard_and_drills_down_to_the_list(
        chromium: Browser, server: Server, user: str, deals: int) -> None:
    context = new_context(chromium, server)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, user)
        page.goto("/app/")
        page.wait_for_load_state("networkidle")

        assert page.locator("[data-dashboard=sales_overview]").count() == 1
        assert chart_drawn(page, FUNNEL)
        entered = page.locator(f"{FUNNEL} .dashboard-figures td.number").first
        assert (entered.text_content() or "").strip() == str(deals)
        click_first_bar(page, FUNNEL)
        page.wait_for_url("**/app/r/deal?**")
        page.wait_for_load_state("networkidle")

        assert page.locator("tr[data-record-id]").count() == deals
        assert "Dashboard deal" in page.locator("tr[data-record-id]").first.inner_text()
        assert errors == []
    finally:
        context.close()


def test_the_dashboard_fits_a_phone(chromium: Browser, server: Server) -> None:
    context = new_context(chromium, server, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, MANAGER)
        page.goto("/app/dashboards/sales_overview?period=this_quarter")
        page.wait_for_load_state("networkidle")

        assert chart_drawn(page, FUNNEL)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
