"""Create from a related list: each related list on a record page offers "New <entity>"
when the user may create that entity and set the field linking back; the form opens with
that reference (or regarding link) filled in, and nothing the user may not write."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_harness import Browser, Screens, entity, field, open_screens

import metacrm.web.record_form
import metacrm.web.record_page  # noqa: F401
from web_harness import role

ALL = {"read": "all", "create": "all", "update": "all", "delete": "all"}
COMPANY = entity("company", field("name", required=True), title_field="name")
DEAL = entity("deal", field("title", required=True),
              field("company", "reference", entity="company"), field("secret"),
              title_field="title")
TASK = entity("task", field("subject", required=True),
              field("regarding", "regarding", entities=["company", "deal"]),
              title_field="subject")
REP = role("rep", entities={"company": ALL, "task": ALL,
                            "deal": {**ALL, "fields": {"secret": "hidden"}}})
VIEWER = role("viewer", entities={"company": {"read": "all"}, "deal": {"read": "all"},
                                  "task": {"read": "all"}})
FIXED = role("fixed", entities={"company": {"read": "all"},
                                "deal": {**ALL, "fields": {"company": "read_only"}}})


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, COMPANY, DEAL, TASK, REP, VIEWER,
                      FIXED) as opened:
        yield opened


def created(browser: Browser, entity_name: str, data: dict[str, str]) -> str:
    response = browser.post(f"/app/r/{entity_name}/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def new_link(page: str, key: str) -> str | None:
    section = page.split(f'data-related="{key}"', 1)[1].split("</section>", 1)[0]
    found = re.search(r'<a class="button" href="([^"]+)" data-related-new', section)
    return html.unescape(found.group(1)) if found else None


def test_a_new_record_from_a_related_list_refers_back(screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    acme = created(rita, "company", {"name": "Acme"})

    link = new_link(rita.text(f"/app/r/company/{acme}"), "deal.company")

    assert link == f"/app/r/deal/new?company={acme}"
    form = rita.text(link)
    assert re.search(rf'name="company" value="{acme}"\s+data-lookup="/app/lookup/company"'
                     r'\s+data-lookup-title="Acme"', form)
    deal = created(rita, "deal", {"title": "Big", "company": acme})
    related = rita.text(f"/app/r/company/{acme}").split(
        'data-related="deal.company"', 1)[1].split("</section>", 1)[0]
    assert f"/app/r/deal/{deal}" in related


def test_a_task_created_from_a_company_is_regarding_it(screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    acme = created(rita, "company", {"name": "Acme"})

    link = new_link(rita.text(f"/app/r/company/{acme}"), "task.regarding")

    assert link == f"/app/r/task/new?regarding.entity=company&regarding.id={acme}"
    form = rita.text(link)
    select = form.split('name="regarding.entity"', 1)[1].split("</select>", 1)[0]
    assert '<option value="company" selected>' in select
    assert re.search(rf'name="regarding.id" value="{acme}"', form)
    assert 'data-lookup-title="Acme"' in form


def test_no_new_link_without_the_right_to_create_or_to_set_the_link(screens: Screens) -> None:
    boss = screens.user("bea", "boss")
    acme = created(boss, "company", {"name": "Acme"})
    viewer = screens.user("vera", "viewer")
    page = viewer.text(f"/app/r/company/{acme}")
    assert 'data-related="deal.company"' in page and new_link(page, "deal.company") is None
    assert new_link(page, "task.regarding") is None
    fixed = screens.user("fred", "fixed")  # may create deals, but not set their company
    assert new_link(fixed.text(f"/app/r/company/{acme}"), "deal.company") is None


def test_a_link_fills_in_only_what_the_user_may_write(screens: Screens) -> None:
    boss = screens.user("bea", "boss")
    acme = created(boss, "company", {"name": "Acme"})
    rita = screens.user("rita", "rep")
    form = rita.text(f"/app/r/deal/new?title=Typed&secret=leak&company={acme}")
    assert 'name="title" value="Typed"' in form
    assert 'value="leak"' not in form and 'name="secret"' not in form  # hidden from her
    fred = screens.user("fred", "fixed")
    form = fred.text(f"/app/r/deal/new?company={acme}")
    assert f'value="{acme}"' not in form  # read-only for him: not pre-filled
