"""The report builder as users rely on it: a rep builds a summary over the records she may
read (dimensions, date buckets, metrics, the list's filter builder), previews it, keeps it
as a private report nobody else sees, downloads its whole result; fields hidden from her
and entities she may not read are refused with the reason; an administrator shares a kept
report as a metadata document everyone who reads the entity then runs within their own
scope. The last test is the screens' permission matrix of these paths.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from screen_harness import Browser, Screens, entity, field, labels, open_screens

from web_harness import role

DEAL = entity("deal", field("title", required=True),
              field("region", "picklist", choices=[{"value": "eu", "label": labels("Europe")},
                                                   {"value": "us", "label": labels("USA")}]),
              field("amount", "integer"), field("close_date", "date"),
              field("secret", "integer"), field("stage", "state", pipeline="deal_flow"),
              title_field="title")
FLOW = {"kind": "pipeline", "name": "deal_flow", "version": 1, "label": labels("Flow"),
        "entity": "deal", "initial_state": "open",
        "states": [{"name": "open", "label": labels("Open")},
                   {"name": "won", "label": labels("Won"), "category": "won"}],
        "transitions": [{"name": "win", "label": labels("Win"), "from": ["open"],
                         "to": "won"}]}
MEMO = entity("memo", field("title", required=True), title_field="title")
ROLES = (
    role("rep", entities={"deal": {"read": "own", "create": "own", "update": "own",
                                   "fields": {"secret": "hidden"}}}),
    role("manager", entities={"deal": {"read": "all", "export": "all"},
                              "memo": {"read": "all"}}),
    role("outsider"),
)
DEALS = (("A", "ann", "eu", 100, "2026-01-10"), ("B", "ann", "us", 50, "2026-02-10"),
         ("C", "bob", "eu", 300, "2026-01-20"))
SUMMARY = {"entity": "deal", "type": "summary", "g": ["region", ""], "gb": ["", ""],
           "mo": ["count", "sum", ""], "mf": ["", "amount", ""]}


class World:
    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        web = screens.web
        web.create_user("root", "boss")
        for name, role_name in (("ann", "rep"), ("bob", "rep"), ("max", "manager"),
                                ("out", "outsider")):
            web.create_user(name, role_name)
        self.root = screens.sign_in("root")
        token = self._token()
        for title, owner, region, amount, close in DEALS:
            response = web.client.post("/api/v1/records/deal", headers=token, json={
                "title": title, "owner": self.user_id(owner), "region": region,
                "amount": amount, "close_date": close, "secret": 7})
            assert response.status_code == 201, response.get_json()

    def _token(self) -> dict[str, str]:
        from web_harness import bearer

        return bearer(self.screens.web.login("root"))

    def user_id(self, username: str) -> str:
        with self.screens.web.app.app_context():
            sm = self.screens.web.identity.appbuilder.sm
            return str(sm.find_user(username=username).id)

    def build(self, browser: Browser, action: str, **form: Any) -> Any:
        return browser.post("/app/reports/builder", {**SUMMARY, "action": action, **form})

    def keep(self, browser: Browser, name: str, **form: Any) -> str:
        response = self.build(browser, "save", label=name, **form)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        location = response.headers["Location"]
        match = re.search(r"/app/reports/mine/([^/?]+)$", location)
        assert match, location
        return match.group(1)


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    with open_screens(isolated_database_url, tmp_path, DEAL, FLOW, MEMO, *ROLES) as screens:
        yield World(screens)


def cells(page: str) -> list[list[str]]:
    """The report table's rows as their cells' text."""
    table = page[page.index("data-report-table"):]
    return [[c.strip() for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)]
            for row in re.findall(r"<tr class=\"report-[a-z]+\">(.*?)</tr>", table, re.S)]


def test_a_rep_previews_and_keeps_a_summary_of_her_own_records(world: World) -> None:
    ann = world.screens.sign_in("ann")
    form = ann.text("/app/reports/builder?entity=deal")
    assert 'value="deal"' in form and 'value="memo"' not in form   # she may not read memos
    assert 'value="secret"' not in form                            # hidden from her

    preview = world.build(ann, "preview", ff=["close_date"], fo=["lt"], fv=["2026-02-01"])
    assert preview.status_code == 200, preview.get_data(as_text=True)[:2000]
    text = preview.get_data(as_text=True)
    assert cells(text) == [["Europe", "1", "100"], ["Total", "1", "100"]]  # her January deal

    report_id = world.keep(ann, "My regions")
    page = ann.text(f"/app/reports/mine/{report_id}")
    assert cells(page) == [["Europe", "1", "100"], ["USA", "1", "50"], ["Total", "2", "150"]]
    assert "data-report-chart" in page and "reports.js" in page  # a summary draws a chart
    assert f'data-private-report="{report_id}"' in ann.text("/app/reports")

    exported = ann.get(f"/app/reports/mine/{report_id}/export?format=csv")
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"] == \
        f'attachment; filename="report-{report_id}.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["region"], r["m1_count"], r["m2_sum"]) for r in rows] == [
        ("eu", "1", "100"), ("us", "1", "50")]
    xlsx = ann.get(f"/app/reports/mine/{report_id}/export?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True).active
    assert sheet is not None and len(list(sheet.iter_rows())) == 3

    # by month of the close date, in a second report
    monthly = world.build(ann, "preview", g=["close_date", ""], gb=["month", ""])
    assert [row[0] for row in cells(monthly.get_data(as_text=True))[:2]] == [
        "2026-01", "2026-02"]


def test_a_matrix_and_a_funnel_are_previewed_and_kept(world: World) -> None:
    def headers(page: str) -> list[str]:
        table = page[page.index("data-report-table"):]
        return [h.strip() for h in re.findall(r"<th[^>]*>([^<]*)</th>", table)]

    # regions down, close-date months across: deals counted per cell, totals per region
    matrix = world.build(world.root, "preview", type="matrix", mc=["close_date"],
                         mcb=["month"])
    assert matrix.status_code == 200, matrix.get_data(as_text=True)[:2000]
    page = matrix.get_data(as_text=True)
    assert headers(page) == ["region", "2026-01", "2026-02", "m1 count", "m2 sum"]
    assert cells(page) == [["Europe", "2", "", "2", "400"], ["USA", "", "1", "1", "50"],
                           ["Total", "", "", "3", "450"]]
    report_id = world.keep(world.root, "Regions by month", type="matrix",
                           mc=["close_date"], mcb=["month"])
    assert cells(world.root.text(f"/app/reports/mine/{report_id}")) == cells(page)

    # ann's deals entered the pipeline's first state; none was won
    funnel = world.build(world.screens.sign_in("ann"), "preview", type="funnel")
    assert funnel.status_code == 200, funnel.get_data(as_text=True)[:2000]
    assert [row[:2] for row in cells(funnel.get_data(as_text=True))] == [
        ["Open", "2"], ["Won", "0"], ["Total", "2"]]

    across = world.build(world.root, "preview", type="matrix")
    assert across.status_code == 422
    assert "Choose the field across the columns." in across.get_data(as_text=True)


def test_what_she_may_not_see_is_refused_with_the_reason(world: World) -> None:
    ann = world.screens.sign_in("ann")

    hidden = world.build(ann, "preview", mf=["", "secret", ""])
    assert hidden.status_code == 422
    assert "/metrics/1/field" in hidden.get_data(as_text=True)
    memo = world.build(ann, "preview", entity="memo", g=["", ""], mf=["", "", ""])
    assert memo.status_code == 403
    listing = world.build(ann, "preview", type="list", columns=["title"])
    assert listing.status_code == 422  # a list needs an export grant
    nameless = world.build(ann, "save", label="  ")
    assert nameless.status_code == 422
    assert "/label" in nameless.get_data(as_text=True)


def test_an_administrator_shares_a_kept_report_with_everyone(world: World) -> None:
    report_id = world.keep(world.root, "Deals by region")

    assert world.screens.sign_in("ann").post(
        f"/app/reports/mine/{report_id}/share", {"name": "x"}).status_code == 403
    shared = world.root.post(f"/app/reports/mine/{report_id}/share",
                             {"name": "deals_by_region"})
    assert shared.status_code == 302, shared.get_data(as_text=True)[:2000]
    assert shared.headers["Location"].endswith("/app/reports/deals_by_region")

    bob = world.screens.sign_in("bob")  # runs it within his own scope
    page = bob.text("/app/reports/deals_by_region")
    assert cells(page) == [["Europe", "1", "300"], ["Total", "1", "300"]]
    assert 'data-report-table="deals_by_region"' in page  # the shared page's table is named
    assert ("reports.js" in page) == ("data-report-chart" in page)  # a chart gets its script
    exported = bob.get("/app/reports/deals_by_region/export?format=csv")
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"] == \
        'attachment; filename="deals_by_region.csv"'
    assert "300" in exported.get_data(as_text=True)
    assert bob.get("/app/reports/deals_by_region/export?format=pdf").status_code == 404
    history = world.screens.web.client.get("/api/v1/meta/report/deals_by_region",
                                           headers=world._token())
    assert history.status_code == 200
    assert history.get_json()["data"]["label"] == {"en": "Deals by region",
                                                   "ru": "Deals by region"}


def test_the_builder_speaks_russian(world: World) -> None:
    ann = world.screens.sign_in("ann")
    ann.post("/app/language", {"language": "ru", "next": "/app/"})
    page = ann.text("/app/reports/builder?entity=deal")
    assert "Построить отчёт" in page and "Группировать по" in page and "Квартал" in page
    assert "Матрица (строки × столбцы)" in page and "Воронка (этапы процесса)" in page


MATRIX: dict[str, Any] = {
    # user: (entities the builder offers, may open ann's kept report, may share)
    "ann": ({"deal"}, True, False),
    "bob": ({"deal"}, False, False),
    "max": ({"deal", "memo"}, False, False),
    "root": ({"deal", "memo"}, False, True),
    "out": (set(), False, False),
}


def test_report_builder_permission_matrix(world: World) -> None:
    report_id = world.keep(world.screens.sign_in("ann"), "Ann's")
    for user, (offered, opens, shares) in MATRIX.items():
        browser = world.screens.sign_in(user)
        page = browser.text("/app/reports/builder")
        found = set(re.findall(r'<option value="(deal|memo)"', page))
        assert found == offered, user
        status = browser.get(f"/app/reports/mine/{report_id}").status_code
        assert status == (200 if opens else 404), user
        own = world.keep(browser, f"{user}'s") if offered else None
        if own is not None:
            response = browser.post(f"/app/reports/mine/{own}/share",
                                    {"name": f"shared_by_{user}"})
            assert response.status_code == (302 if shares else 403), user
