"""A sales rep converts leads in a real browser against `metacrm serve` with the shipped
packs — once from the record page's "Convert" step and once by dragging the card into the
board's "Converted" column — and the person, the company and the deal exist and are linked
(issue 11: the screens used to run the bare transition, which made nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_harness import Browser, Page, Server, expect, shipped_server, sign_in

REP = "rita"


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        server.create_user(REP, "sales_rep")
        yield server


def new_lead(server: Server) -> tuple[dict[str, Any], str]:
    company = f"Globex {uuid.uuid4().hex[:6]}"
    lead = server.create_record(REP, "lead", {
        "first_name": "Hank", "last_name": "Scorpio", "company_name": company,
        "email": f"hank.{uuid.uuid4().hex[:6]}@globex.example",
        "estimated_value": {"amount": "12000", "currency": "USD"}})
    return lead, company


def get(server: Server, path: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/v1/records/{path}", timeout=30,
                         headers={"Authorization": f"Bearer {server.api_token(REP)}"})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def assert_converted_and_linked(server: Server, lead_id: str, company_name: str) -> None:
    lead = get(server, f"lead/{lead_id}")
    assert lead["status"] == "converted"
    person = get(server, f"person/{lead['converted_person']}")
    assert (person["first_name"], person["last_name"]) == ("Hank", "Scorpio")
    company = get(server, f"company/{person['company']}")
    assert company["name"] == company_name
    deals = httpx.get(f"{server.url}/api/v1/records/deal", timeout=30,
                      params={"filter[contact][eq]": person["id"]},
                      headers={"Authorization": f"Bearer {server.api_token(REP)}"}
                      ).json()["data"]
    assert [(d["title"], d["company"]) for d in deals] == [(company_name, company["id"])]


def convert_on_the_page(page: Page) -> None:
    expect(page.locator("[data-conversion-target=person]")).to_be_visible()
    expect(page.locator("[data-conversion-value='company.name']")).not_to_be_empty()
    page.locator("[data-convert]").click()
    expect(page.locator(".flash-success")).to_contain_text("Converted:")


def test_a_rep_converts_a_lead_from_the_record_page(page: Page, server: Server) -> None:
    lead, company = new_lead(server)
    sign_in(page, REP)

    page.goto(f"/app/r/lead/{lead['id']}")
    page.locator("[data-transition=convert]").click()
    page.wait_for_url(f"**/app/r/lead/{lead['id']}/convert")
    convert_on_the_page(page)

    expect(page.locator("[data-record-state=status]")).to_contain_text("Converted")
    expect(page.locator("[data-transition]")).to_have_count(0)  # no "Disqualify" either
    assert_converted_and_linked(server, lead["id"], company)


def test_a_rep_converts_a_lead_by_dragging_it_to_converted(page: Page, server: Server) -> None:
    lead, company = new_lead(server)
    sign_in(page, REP)

    page.set_viewport_size({"width": 1700, "height": 900})  # all five columns in view
    page.goto("/app/r/lead/board")
    card = page.locator(f"[data-board-column=new] [data-card-id='{lead['id']}']")
    card.drag_to(page.locator("[data-board-column=converted] [data-column-cards]"))
    page.wait_for_url(f"**/app/r/lead/{lead['id']}/convert")
    convert_on_the_page(page)

    assert_converted_and_linked(server, lead["id"], company)
    page.goto("/app/r/lead/board")
    expect(page.locator(f"[data-board-column=converted] [data-card-id='{lead['id']}']")
           ).to_be_visible()
