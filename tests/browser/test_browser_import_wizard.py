"""The import wizard in a real browser against `metacrm serve` with the shipped packs: the
Maven CRM data set's accounts become companies and its 8,800 opportunities deals, their
stages mapped to the sales pipeline's — upload, mapping, values, dry run (in a tab of its
own), import, progress, done — and the same file imported again in upsert mode changes
nothing (issue 14's "done when")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_harness import ADMIN, Browser, Page, Server, expect, shipped_server, sign_in

from datasets_harness import MAVEN, dataset_folder

# 8,800 rows written in batches and upserted again: the bulk paths differ by database.
pytestmark = pytest.mark.postgres_too

SECTORS = {"technolgy": "software", "medical": "healthcare", "retail": "retail",
           "finance": "finance", "software": "software", "entertainment": "other",
           "marketing": "other", "telecommunications": "other", "employment": "other",
           "services": "other"}
STAGES = {"Prospecting": "qualification", "Engaging": "needs_analysis", "Won": "won",
          "Lost": "lost"}
UNKNOWN = "Unknown account"
JOB_MS = 180_000
"""How long an import of the 8,800 deals may take on a loaded machine (the page reloads
itself every 2 s while it runs)."""


def dataset() -> Path:
    return dataset_folder(MAVEN, "sales_pipeline.csv")


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with shipped_server(tmp_path_factory) as server:
        yield server


def records(server: Server, entity: str, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/v1/records/{entity}", params=params, timeout=60,
                         headers={"Authorization": f"Bearer {server.api_token(ADMIN)}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def upload(page: Page, entity: str, file: Path, columns: dict[str, str], *,
           mode: str = "create", key: str = "", silent: bool = False) -> None:
    """The wizard's first two steps: the file, then a field for each column and how to
    import (mode, key, silent)."""
    page.goto(f"/app/import/{entity}")
    page.set_input_files("#import-file", str(file))
    page.locator("[data-import-upload] button[type=submit]").click()
    expect(page.locator("[data-import-mapping]")).to_be_visible()
    for select in page.locator("[data-import-mapping] select[name^='column-']").all():
        column = str(select.get_attribute("name"))[len("column-"):]
        select.select_option(columns.get(column, ""))
    page.select_option("#import-mode", mode)
    page.select_option("#import-key", key)
    if silent:
        page.check("[data-import-mapping] input[name=silent]")
    page.locator("[data-action=import-values]").click()
    expect(page.locator("[data-import-values]")).to_be_visible()


def map_values(page: Page, column: str, values: dict[str, str]) -> None:
    group = page.locator(f"[data-import-value-column='{column}']")
    expect(group.locator("select")).to_have_count(len(values))
    for file_value, stored in values.items():
        group.locator(f"select[data-file-value='{file_value}']").select_option(stored)


def dry_run(page: Page) -> Page:
    """"Check (dry run)" opens the check in a tab of its own; the mapping stays here."""
    with page.context.expect_page(timeout=JOB_MS) as opened:
        page.locator("[data-import-values] [data-action=import-check]").click(timeout=JOB_MS)
    check = opened.value
    check.wait_for_load_state()
    expect(check.locator("[data-import-status]")).to_have_attribute(
        "data-import-status", "completed", timeout=JOB_MS)
    return check


def run(page: Page) -> None:
    page.locator("[data-import-values] [data-action=import-run]").click(timeout=JOB_MS)
    page.wait_for_url("**/app/import/status/*", timeout=JOB_MS)
    expect(page.locator("[data-import-status]")).to_have_attribute(
        "data-import-status", "completed", timeout=JOB_MS)
    expect(page.locator("progress")).to_have_attribute("value", "100")


def import_deals(page: Page, mode: str) -> None:
    upload(page, "deal", dataset() / "sales_pipeline.csv",
           {"opportunity_id": "title", "account": "company", "deal_stage": "stage",
            "close_date": "close_date"}, mode=mode, key="title", silent=True)
    map_values(page, "deal_stage", STAGES)
    page.check("[data-import-reference=company] input[type=checkbox]")
    page.fill("#blank-company", UNKNOWN)


def test_the_maven_data_set_imports_through_the_wizard(page: Page, server: Server) -> None:
    sign_in(page)
    upload(page, "company", dataset() / "accounts.csv",
           {"account": "name", "sector": "industry", "employees": "employees"})
    map_values(page, "sector", SECTORS)
    check = dry_run(page)
    expect(check.locator("[data-import-counts]")).to_contain_text(
        "85 rows: 85 created, 0 updated, 0 unchanged, 0 failed")
    check.close()
    assert records(server, "company", **{"filter[name][eq]": "Cancity"})["data"] == []
    run(page)
    expect(page.locator("[data-import-counts]")).to_contain_text("85 created")
    (cancity,) = records(server, "company", **{"filter[name][eq]": "Cancity"})["data"]
    assert cancity["industry"] == "retail" and cancity["employees"] == 2448

    import_deals(page, "create")
    check = dry_run(page)
    expect(check.locator("[data-import-counts]")).to_contain_text(
        "8800 rows: 8800 created, 0 updated, 0 unchanged, 0 failed")
    check.close()
    run(page)
    expect(page.locator("[data-import-counts]")).to_contain_text(
        "8800 rows: 8800 created, 0 updated, 0 unchanged, 0 failed")
    (deal,) = records(server, "deal", **{"filter[title][eq]": "1C1I7A6R"})["data"]
    assert (deal["stage"], deal["company"], deal["close_date"]) == (
        "won", cancity["id"], "2017-03-01")
    assert records(server, "deal", **{"filter[stage][eq]": "qualification"}
                   )["meta"]["count"] == 500  # the Prospecting rows
    (unknown,) = records(server, "company", **{"filter[name][eq]": UNKNOWN})["data"]
    assert records(server, "deal", **{"filter[company][eq]": unknown["id"], "limit": "1"}
                   )["data"]  # rows without an account name the "Unknown account" company

    import_deals(page, "upsert")  # the same file again: nothing changes
    run(page)
    expect(page.locator("[data-import-counts]")).to_contain_text(
        "8800 rows: 0 created, 0 updated, 8800 unchanged, 0 failed")
