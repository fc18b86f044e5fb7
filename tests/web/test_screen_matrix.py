"""The permission matrix on the screens: roles × screens × records.

Every screen that shows records — list, quick search, global search, record page (with its
timeline and related lists), edit form, kanban board (cards and totals), reference lookup,
CSV export, notifications — shows exactly the records the role's read scope allows, never a hidden
field's value, and answers 404 for a record outside the scope (403 for an entity the role
may not read).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from screen_harness import Browser, Screens, entity, field, labels, open_screens

from metacrm.notifications import store as notification_store
from metacrm.storage.system_tables import favourite_records, recent_records
from web_harness import bearer, role

COMPANY = entity("company", field("name", required=True, indexed=True), title_field="name",
                 search_fields=["name"])
DEAL = entity(
    "deal",
    field("title", required=True, indexed=True),
    field("value", "money", currency="EUR"),
    field("secret", "text"),
    field("company", "reference", entity="company"),
    field("stage", "state", pipeline="deal_flow"),
    title_field="title", search_fields=["title", "secret"],
)
FLOW = {"kind": "pipeline", "name": "deal_flow", "version": 1, "label": labels("Flow"),
        "entity": "deal",
        "states": [{"name": "open", "label": labels("Open")},
                   {"name": "won", "label": labels("Won"), "category": "won"}],
        "transitions": [{"name": "win", "label": labels("Win"), "from": ["open"],
                         "to": "won"}]}
HIDE = {"secret": "hidden"}
DEAL_REPORT = {"kind": "report", "name": "deals_by_company", "version": 1,
               "label": labels("Deals by company"), "entity": "deal",
               "group_by": ["company.name"],
               "metrics": [{"op": "count", "name": "deals"},
                           {"op": "sum", "field": "value", "currency": "EUR"}]}
STAGE_REPORT = {"kind": "report", "name": "deals_per_stage", "version": 1,
                "label": labels("Deals per stage"), "entity": "deal", "group_by": ["stage"],
                "metrics": [{"op": "count", "name": "deals"}]}
MATRIX_REPORT = {"kind": "report", "name": "company_by_stage", "version": 1,
                 "label": labels("Company by stage"), "entity": "deal", "type": "matrix",
                 "group_by": ["company.name"], "columns": ["stage"],
                 "metrics": [{"op": "count", "name": "deals"}]}
DASHBOARD = {"kind": "dashboard", "name": "deal_desk", "version": 1,
             "label": labels("Deal desk"), "shared_with": {"roles": ["rep", "manager",
                                                                      "outsider"]},
             "widgets": [{"report": "deals_by_company", "chart": "number",
                          "metric": "deals"},
                         {"report": "deals_per_stage", "chart": "bar"},
                         {"report": "company_by_stage", "chart": "pie"},
                         {"report": "deals_by_company", "chart": "bar", "metric": "deals"}]}
DEAL_SHEET = {"kind": "document_template", "name": "deal_sheet", "version": 1,
              "label": labels("Deal sheet"), "entity": "deal", "language": "en",
              "body": "<h1>{{ record.title }}</h1>"
                      "<p>{% if record.secret is defined %}{{ record.secret }}{% endif %}</p>"}
ROLES = (
    role("rep", entities={"deal": {"read": "own", "update": "own", "fields": HIDE},
                          "company": {"read": "all"}}),
    role("manager", entities={"deal": {"read": "all", "update": "all", "export": "all"},
                              "company": {"read": "all"}}),
    role("viewer", entities={"deal": {"read": "all", "export": "own", "fields": HIDE},
                             "company": {"read": "all"}}),
    role("outsider", entities={"company": {"read": "all"}}),
)
DEALS = {"Alpha": "ann", "Bravo": "ann", "Charlie": "bob", "Delta": "root"}
SECRET = "SECRET-VALUE"
EXPECTED: dict[str, tuple[str, frozenset[str] | None, bool, frozenset[str]]] = {
    # user: (role, deals read (None: deals forbidden), secret visible, deals exported)
    "ann": ("rep", frozenset({"Alpha", "Bravo"}), False, frozenset()),
    "max": ("manager", frozenset(DEALS), True, frozenset(DEALS)),
    "val": ("viewer", frozenset(DEALS), False, frozenset()),
    "out": ("outsider", None, False, frozenset()),
}


class World:
    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        screens.web.create_user("root", "boss")
        self.token = bearer(screens.web.login("root"))
        for user, (role_name, *_rest) in EXPECTED.items():
            screens.web.create_user(user, role_name)
        screens.web.create_user("bob", "rep")
        self.company = self.api("company", {"name": "Acme"})["id"]
        self.ids = {title: self.api("deal", {
            "title": title, "owner": self.user_id(owner), "secret": SECRET,
            "company": self.company, "value": {"amount": "10", "currency": "EUR"}})["id"]
            for title, owner in DEALS.items()}
        self.title = {record_id: title for title, record_id in self.ids.items()}

    def user_id(self, username: str) -> str:
        with self.screens.web.app.app_context():
            sm = self.screens.web.identity.appbuilder.sm
            return str(sm.find_user(username=username).id)

    def api(self, entity_name: str, payload: dict[str, Any]) -> Any:
        response = self.screens.web.client.post(f"/api/v1/records/{entity_name}",
                                                json=payload, headers=self.token)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"]


@contextmanager
def open_world(database_url: str, root: Path) -> Iterator[World]:
    with open_screens(database_url, root, COMPANY, DEAL, FLOW, DEAL_REPORT,
                      STAGE_REPORT, MATRIX_REPORT, DASHBOARD, DEAL_SHEET, *ROLES) as screens:
        yield World(screens)


@pytest.fixture(scope="module")
def world(module_database_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the tests that change nothing another test could see (no record page
    opened — it lands among the user's recent records —, no record, notification,
    favourite, job, rule or language added): an app and its users cost more than a test."""
    with open_world(module_database_url, tmp_path_factory.mktemp("matrix")) as shared:
        yield shared


@pytest.fixture
def fresh_world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    """A world of the test's own, for a test that leaves traces on the screens."""
    with open_world(isolated_database_url, tmp_path) as own:
        yield own


def deal_titles(page: str) -> set[str]:
    return {title for title in DEALS if re.search(rf">\s*{title}\s*<", page)}


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_every_screen_shows_exactly_the_scope(fresh_world: World, user: str) -> None:
    _role, readable, sees_secret, exported = EXPECTED[user]
    browser: Browser = fresh_world.screens.sign_in(user)
    screens = {
        "list": "/app/r/deal",
        "search": "/app/r/deal?q=a",
        "board": "/app/r/deal/board",
        "related": f"/app/r/company/{fresh_world.company}",
    }
    if readable is None:
        for name in ("list", "search", "board"):
            assert browser.get(screens[name]).status_code == 403, name
        assert deal_titles(browser.text(screens["related"])) == set()
        assert browser.get("/app/lookup/deal?q=a").status_code == 403
        assert browser.get(f"/app/r/deal/{fresh_world.ids['Alpha']}").status_code == 403
        return
    for name, path in screens.items():
        page = browser.text(path)
        expected = readable if name != "search" else {t for t in readable if "a" in t.lower()}
        assert deal_titles(page) == expected, name
        if not sees_secret:
            assert SECRET not in page, name
    board = browser.text("/app/r/deal/board")
    count = re.search(r'data-column-count[^>]*>\s*([^<]+)<', board)
    assert count and count.group(1).strip().startswith(str(len(readable)))
    assert f"€{10 * len(readable)}" in board.replace(",", "").replace(".00", "")
    lookup = browser.get("/app/lookup/deal?q=a").get_json()
    assert {fresh_world.title[item["id"]] for item in lookup["results"]} == {
        t for t in readable if "a" in t.lower()}
    for title, record_id in fresh_world.ids.items():
        for path in (f"/app/r/deal/{record_id}", f"/app/r/deal/{record_id}/edit"):
            response = browser.get(path)
            if title in readable:
                page = response.get_data(as_text=True)
                assert response.status_code in (200, 403), path  # 403: edit not allowed
                assert (SECRET in page) == (sees_secret and response.status_code == 200)
            else:
                assert response.status_code == 404, path
    export = browser.get("/app/r/deal/export.csv")
    if exported:
        csv_text = export.get_data(as_text=True)
        cells = {cell for row in csv.reader(io.StringIO(csv_text)) for cell in row}
        assert cells & set(DEALS) == exported
        assert (SECRET in csv_text) == sees_secret
    else:
        assert export.status_code == 403 or not deal_titles(export.get_data(as_text=True))


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_the_notifications_page_shows_exactly_the_scope(fresh_world: World, user: str) -> None:
    """Told about every deal, each user's notifications page names only the deals they may
    read, with no hidden value."""
    _role, readable, sees_secret, _exported = EXPECTED[user]
    user_id = fresh_world.user_id(user)
    services = fresh_world.screens.web.app.extensions["metacrm"].services
    with services.engine.begin() as conn:
        for title, record_id in fresh_world.ids.items():
            notification_store.add(conn, user_id=user_id, kind="automation",
                                   source=f"matrix:{title}", at=services.clock(),
                                   entity="deal", record_id=record_id,
                                   message=f"About {title}")
    page = fresh_world.screens.sign_in(user).text("/app/notifications")
    shown = {title for title in DEALS if f"Deal: {title}<" in page}
    assert shown == (readable or set())
    assert {title for title in DEALS if f"About {title}" in page} == (readable or set())
    if not sees_secret:
        assert SECRET not in page


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_global_search_shows_exactly_the_scope(world: World, user: str) -> None:
    """The search page and the top bar's dropdown list exactly the readable deals, and
    never match on a field hidden from the user (`secret` is a search field)."""
    _role, readable, sees_secret, _exported = EXPECTED[user]
    browser = world.screens.sign_in(user)
    for q in ("a", "SECRET-VAL"):
        expected = set() if readable is None or (q != "a" and not sees_secret) else readable
        page = browser.get("/app/search", query_string={"q": q})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        if q == "a":  # too short: the field says so, nothing is searched
            assert deal_titles(text.split("</header>", 1)[1]) == set()
            continue
        assert deal_titles(text) == expected, q
        dropdown = browser.get("/app/search", query_string={"q": q, "format": "json"})
        hits = [hit for group in dropdown.get_json()["groups"] for hit in group["hits"]]
        assert {hit["title"] for hit in hits} == expected
        assert {hit["href"] for hit in hits} == {f"/app/r/deal/{world.ids[t]}"
                                                for t in expected}
        assert SECRET not in text.replace(f'value="{q}"', "")
    wide = browser.text("/app/search?q=alp")  # a word start: Alpha
    assert deal_titles(wide) == ({"Alpha"} & readable if readable else set())


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_recent_records_and_favourites_show_exactly_the_scope(fresh_world: World,
                                                              user: str) -> None:
    """With every deal among their recent records and favourites (as after a reassignment
    or a role change), the navigation names only the deals the user may read, and starring
    one they may not read is refused."""
    _role, readable, sees_secret, _exported = EXPECTED[user]
    user_id = fresh_world.user_id(user)
    services = fresh_world.screens.web.app.extensions["metacrm"].services
    with services.engine.begin() as conn:
        for record_id in fresh_world.ids.values():
            for table, column in ((recent_records, "opened_at"),
                                  (favourite_records, "created_at")):
                conn.execute(table.insert().values(user_id=user_id, entity="deal",
                                                   record_id=record_id,
                                                   **{column: services.clock()}))
    browser = fresh_world.screens.sign_in(user)
    page = browser.text("/app/")
    for key in ("recent", "favourites"):
        found = page.split(f'data-nav-bookmarks="{key}"', 1)
        section = found[1].split("</section>", 1)[0] if len(found) == 2 else ""
        assert deal_titles(section) == (readable or set()), key
    if not sees_secret:
        assert SECRET not in page
    for title, record_id in fresh_world.ids.items():
        response = browser.post(f"/app/r/deal/{record_id}/star", {"starred": "1"})
        assert response.status_code == (
            302 if title in (readable or set()) else 403 if readable is None else 404)


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_the_report_page_and_its_files_count_exactly_the_scope(world: World,
                                                                user: str) -> None:
    _role, readable, _sees_secret, _exported = EXPECTED[user]
    browser: Browser = world.screens.sign_in(user)
    index = browser.text("/app/reports")
    page = browser.get("/app/reports/deals_by_company")
    export = browser.get("/app/reports/deals_by_company/export?format=csv")

    if readable is None:
        assert "deals_by_company" not in index
        assert page.status_code == 404 and export.status_code == 404
        return
    assert 'data-report="deals_by_company"' in index
    table = page.get_data(as_text=True)
    total = re.search(r'class="report-total">\s*<td>[^<]*</td>\s*<td class="number">'
                      r'([^<]+)</td>', table)
    assert total and total.group(1).strip() == str(len(readable))
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert rows == [{"company_name": "Acme", "deals": str(len(readable)),
                     "sum_value": f"{10 * len(readable)}.00"}]


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_the_dashboard_and_its_drill_down_show_exactly_the_scope(world: World,
                                                                 user: str) -> None:
    _role, readable, _sees_secret, _exported = EXPECTED[user]
    browser: Browser = world.screens.sign_in(user)
    index = browser.text("/app/dashboards")
    page = browser.get("/app/dashboards/deal_desk")

    if user == "val":  # not shared with the viewer's role
        assert "deal_desk" not in index and page.status_code == 404
        return
    assert 'data-dashboard="deal_desk"' in index
    text = page.get_data(as_text=True)
    if readable is None:
        assert text.count('data-widget-status="forbidden"') == 4
        assert "You may not run this report." in text
        return
    kpi = re.search(r"data-kpi>([^<]+)<", text)
    assert kpi and kpi.group(1).strip() == str(len(readable))
    # the stage bar, the matrix's row totals, the company bar
    assert text.count("data-dashboard-chart=") == 3
    assert re.search(r"<th scope=\"row\">Acme</th>\s*<td class=\"number\">"
                     + str(len(readable)) + "</td>", text)
    links = re.findall(r'<a href="([^"]+)" data-drill>', text)
    # the stage bar's "open", and Acme of the bar through the reference (company.name)
    assert len(links) == 2, links
    assert all(link.startswith("/app/r/deal?custom=1&amp;filter=") for link in links)
    assert any("%22company%22" in link for link in links)
    for link in links:
        assert deal_titles(browser.text(link.replace("&amp;", "&"))) == readable, link


def test_the_dashboard_screen_speaks_russian(fresh_world: World) -> None:
    browser: Browser = fresh_world.screens.sign_in("max")
    browser.post("/app/language", {"language": "ru", "next": "/app/"})
    page = browser.text("/app/dashboards/deal_desk?period=nonsense")

    assert "Дашборды" in page and "Некоторые фильтры не применены" in page
    assert "Цифры" in page


ADMIN_SCREENS = ("/app/admin/users", "/app/admin/users/new", "/app/admin/users/1",
                 "/app/admin/roles")


def test_user_and_role_admin_screens_are_for_administrators_only(world: World) -> None:
    for user in sorted(EXPECTED):  # rep, manager, viewer, outsider
        browser: Browser = world.screens.sign_in(user)
        for path in ADMIN_SCREENS:
            assert browser.get(path).status_code == 403, (user, path)
        for path in ("/app/admin/users/1/deactivate", "/app/admin/users/1/delete",
                     "/app/admin/roles", "/app/admin/roles/rep/delete"):
            assert browser.post(path, {"name": "forged", "label_en": "F",
                                       "label_ru": "F"}).status_code == 403, (user, path)
    root = world.screens.sign_in("root")
    assert all(root.get(path).status_code == 200 for path in ADMIN_SCREENS)


@pytest.mark.parametrize("user", [*sorted(EXPECTED), "root"])
def test_the_document_template_preview_is_for_administrators_only(world: World,
                                                                  user: str) -> None:
    """No role but an admin one sees a template rendered on a record — not even on a
    record it may read — so the preview never shows a field the role may not see."""
    browser = world.screens.sign_in(user)
    record = world.ids["Alpha"]
    page = browser.get(f"/app/admin/documents?template=deal_sheet&record={record}")
    frame = browser.get(f"/app/admin/documents/frame?template=deal_sheet&record={record}")
    if user == "root":
        assert page.status_code == frame.status_code == 200
        assert SECRET in frame.get_data(as_text=True)
        return
    for response in (page, frame):
        assert response.status_code == 403
        assert SECRET not in response.get_data(as_text=True)


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_mass_print_from_the_list_prints_exactly_the_scope(fresh_world: World, user: str) -> None:
    """Every deal's id is posted to the bulk bar's Print ZIP (as a forged form could): the
    ZIP holds exactly the deals the user may read, without hidden values; the others are
    listed as not printed; nobody else sees the job."""
    _role, readable, sees_secret, _exported = EXPECTED[user]
    browser = fresh_world.screens.sign_in(user)
    if readable is None:
        assert browser.get("/app/r/deal").status_code == 403
    else:
        assert 'data-bulk="print"' in browser.text("/app/r/deal")
    ordered = browser.post("/app/r/deal/bulk", {
        "action": "print", "print_template": "deal_sheet", "ids": list(fresh_world.ids.values())})
    if readable is None:
        assert ordered.status_code == 403
        return
    assert ordered.status_code == 302, ordered.get_data(as_text=True)[:300]
    job_page = ordered.headers["Location"]
    page = browser.text(job_page)
    assert f"{len(readable)} of {len(DEALS)} records printed" in page
    assert page.count("data-print-failure") == len(DEALS) - len(readable)
    zipped = browser.get(f"{job_page}/download")
    assert zipped.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(zipped.data))
    text = " ".join(PdfReader(io.BytesIO(archive.read(name))).pages[0].extract_text()
                    for name in archive.namelist() if name.endswith(".pdf"))
    assert {title for title in DEALS if title in text} == readable
    assert (SECRET in text) == sees_secret
    other = fresh_world.screens.sign_in("root" if user != "root" else "ann")
    assert other.get(job_page).status_code == 404
    assert other.get(f"{job_page}/download").status_code == 404


@pytest.mark.parametrize("user", [*sorted(EXPECTED), "root"])
def test_the_duplicate_rule_designer_and_its_matches_are_for_administrators_only(
        fresh_world: World, user: str) -> None:
    """The rule designer's "Show the matches" lists existing records: only an admin role
    reaches it, so it never names a record another role may not read."""
    browser = fresh_world.screens.sign_in(user)
    twin = {"title": "Alpha", "owner": fresh_world.user_id("bob")}  # a twin of Alpha
    fresh_world.api("deal", twin)
    matches = browser.post("/app/admin/duplicate-rules/new", {
        "entity": "deal", "name": "deal_twins", "action": "matches",
        "condition-0-field": "title", "condition-0-normalise": "case_spaces"})
    pages = [browser.get("/app/admin/duplicate-rules"),
             browser.get("/app/admin/duplicate-rules/new?entity=deal"), matches]
    if user == "root":
        assert [page.status_code for page in pages] == [200, 200, 200]
        assert matches.get_data(as_text=True).count("data-record=") == 2
        return
    for response in pages:
        assert response.status_code == 403
        assert "data-record=" not in response.get_data(as_text=True)
