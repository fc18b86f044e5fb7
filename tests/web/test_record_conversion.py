"""Converting a lead from the screens: the record page and the board send the user to the
conversion page (never the bare transition), which shows what the conversion will make and
link, then converts through the conversion service — the person, the company and the deal
exist and are linked, and the converted lead offers no further step."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

import metacrm.web.board
import metacrm.web.record_conversion
import metacrm.web.record_page  # noqa: F401
from web_harness import role

ALL = {"read": "all", "create": "all", "update": "all", "delete": "all"}

DOCUMENTS: list[dict[str, Any]] = [
    entity("company", field("name", "text", required=True), title_field="name"),
    entity("person", field("last_name", "text", required=True), field("email", "email"),
           field("company", "reference", entity="company"), title_field="last_name"),
    entity("deal", field("title", "text", required=True),
           field("company", "reference", entity="company"),
           field("contact", "reference", entity="person"), title_field="title"),
    entity("lead", field("last_name", "text", required=True), field("company_name", "text"),
           field("email", "email"), field("status", "state", pipeline="lead_flow"),
           field("converted_person", "reference", entity="person", read_only=True),
           title_field="last_name"),
    {"kind": "pipeline", "name": "lead_flow", "version": 1, "label": labels("Lead flow"),
     "entity": "lead",
     "states": [{"name": "new", "label": labels("New")},
                {"name": "converted", "label": labels("Converted"), "category": "won",
                 "locked": True}],
     "transitions": [
         {"name": "convert", "label": labels("Convert"), "from": ["new"], "to": "converted"}]},
    {"kind": "conversion", "name": "lead_conversion", "version": 1,
     "label": labels("Convert lead"), "source": "lead", "transition": "convert",
     "source_links": {"converted_person": "person"},
     "targets": [
         {"name": "company", "entity": "company", "optional": True, "match": [["name"]],
          "fields": {"name": "company_name"}},
         {"name": "person", "entity": "person", "match": [["email"]],
          "fields": {"last_name": "last_name", "email": "email"},
          "links": {"company": "company"}},
         {"name": "deal", "entity": "deal", "optional": True,
          "fields": {"title": "company_name"},
          "links": {"company": "company", "contact": "person"}}]},
    role("rep", entities={name: ALL for name in ("lead", "company", "person", "deal")},
         transitions={"lead_flow": "*"}),
    role("no_deals", entities={**{name: ALL for name in ("lead", "company", "person")},
                               "deal": {"read": "all"}},
         transitions={"lead_flow": "*"}),
]


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as opened:
        yield opened


def created(browser: Browser, entity_name: str, data: dict[str, Any]) -> str:
    response = browser.post(f"/app/r/{entity_name}/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"].rsplit("/", 1)[1])


def status_of(browser: Browser, lead: str) -> str:
    found = re.search(r'<dd data-field="status">(.*?)</dd>',
                      browser.text(f"/app/r/lead/{lead}"), re.S)
    assert found
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_record_page_offers_the_conversion_not_the_bare_transition(
        screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    lead = created(rita, "lead", {"last_name": "Lee", "company_name": "Acme",
                                  "email": "ann@acme.example"})

    page = rita.text(f"/app/r/lead/{lead}")
    forced = rita.post(f"/app/r/lead/{lead}/transition/convert", {"_version": "1"})

    assert re.search(rf'href="/app/r/lead/{lead}/convert" data-transition="convert"', page)
    assert 'action="/app/r/lead/' + lead + '/transition/convert"' not in page
    assert forced.status_code == 302
    assert forced.headers["Location"].endswith(f"/app/r/lead/{lead}/convert")
    assert status_of(rita, lead) == "New"
    assert 'value="convert"' not in rita.text("/app/r/lead")  # not among the bulk moves


def test_the_conversion_page_shows_the_plan_and_converts(screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    existing = created(rita, "person", {"last_name": "Lee", "email": "ANN@acme.example"})
    lead = created(rita, "lead", {"last_name": "Lee", "company_name": "Acme",
                                  "email": "ann@acme.example"})

    page = rita.text(f"/app/r/lead/{lead}/convert")
    response = rita.post(f"/app/r/lead/{lead}/convert", {
        "_version": "1", "conversion": "lead_conversion", "target.company": "make",
        "target.person": "make", "target.deal": "make"})

    assert f'data-conversion-match="{existing}"' in page  # the person is linked, not copied
    assert re.search(r'data-conversion-value="company.name">\s*Acme', page)
    assert re.search(r'data-conversion-value="deal.title">\s*Acme', page)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert response.headers["Location"].endswith(f"/app/r/lead/{lead}")
    lead_page = rita.text(f"/app/r/lead/{lead}")
    assert "Converted" in lead_page and "data-transition=" not in lead_page
    assert f'<a href="/app/r/person/{existing}">Lee</a>' in lead_page  # converted_person
    person_page = rita.text(f"/app/r/person/{existing}")
    deals_of_person = person_page.split('data-related="deal.contact"', 1)[1].split("</section>")[0]
    assert "Acme" in deals_of_person  # the deal's contact is the matched person
    company = re.search(r"/app/r/company/([0-9a-f-]{36})", rita.text("/app/r/company"))
    assert company, "the company was made"
    company_page = rita.text(f"/app/r/company/{company.group(1)}")
    deals = company_page.split('data-related="deal.company"', 1)[1].split("</section>")[0]
    assert "Acme" in deals


def test_skipping_a_target_and_a_refusal_that_keeps_the_choices(screens: Screens) -> None:
    nina = screens.user("nina", "no_deals")
    lead = created(nina, "lead", {"last_name": "Lee", "company_name": "Acme"})

    refused = nina.post(f"/app/r/lead/{lead}/convert", {
        "_version": "1", "target.company": "skip", "target.person": "make",
        "target.deal": "make"})

    assert refused.status_code == 403
    text = refused.get_data(as_text=True)
    assert "data-conversion-error" in text
    assert re.search(r'name="target.company" value="skip" checked', text)
    assert status_of(nina, lead) == "New"
    done = nina.post(f"/app/r/lead/{lead}/convert", {
        "_version": "1", "target.company": "skip", "target.person": "make",
        "target.deal": "skip"})
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]
    assert status_of(nina, lead) == "Converted"
    people = nina.text("/app/r/person")
    assert "Lee" in people
    assert "Acme" not in nina.text("/app/r/company")  # skipped: no company made


def test_the_board_sends_a_move_to_converted_to_the_conversion_page(
        screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    lead = created(rita, "lead", {"last_name": "Lee", "company_name": "Acme"})
    move = {"id": lead, "version": "1", "to": "converted"}

    scripted = rita.post("/app/r/lead/board/move", move,
                         headers={"Accept": "application/json"})
    plain = rita.post("/app/r/lead/board/move", move)

    assert scripted.get_json()["convert_url"] == f"/app/r/lead/{lead}/convert"
    assert plain.status_code == 302
    assert plain.headers["Location"].endswith(f"/app/r/lead/{lead}/convert")
    assert status_of(rita, lead) == "New"
