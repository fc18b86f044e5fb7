"""Record titles on the screens: record pages, lookups, reference displays and the timeline
name a record by its entity's title template, references by the referenced record's title."""

from __future__ import annotations

import re
from pathlib import Path

from screen_harness import Browser, entity, field, open_screens

import metacrm.web.record_page  # noqa: F401
from web_harness import role

ALL = {"read": "all", "create": "all", "update": "all", "delete": "all"}
PERSON = entity("person", field("first_name"), field("last_name", required=True),
                title="{first_name} {last_name}", title_field="last_name",
                search_fields=["first_name", "last_name"])
PRODUCT = entity("product", field("name", required=True), title_field="name")
LINE = entity("line", field("product", "reference", entity="product", required=True),
              field("quantity", "decimal", precision=12, scale=3),
              title="{product} × {quantity}")
NOTE = entity("note", field("subject", required=True),
              field("person", "reference", entity="person"),
              field("line", "reference", entity="line"), title_field="subject")
SELLER = role("seller", entities={name: ALL for name in ("person", "product", "line", "note")})
BLIND = role("blind", entities={name: ALL for name in ("person", "line", "note")})
DOCUMENTS = (PERSON, PRODUCT, LINE, NOTE, SELLER, BLIND)


def created(browser: Browser, entity_name: str, data: dict[str, str]) -> str:
    response = browser.post(f"/app/r/{entity_name}/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def heading(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert found
    return found.group(1).strip()


def test_pages_lookups_and_references_use_the_title_template(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        sam = screens.user("sam", "seller")
        ada = created(sam, "person", {"first_name": "Ada", "last_name": "Lovelace"})
        widget = created(sam, "product", {"name": "Widget"})
        line = created(sam, "line", {"product": widget, "quantity": "3"})
        note = created(sam, "note", {"subject": "Call", "person": ada, "line": line})

        assert heading(sam.text(f"/app/r/person/{ada}")) == "Ada Lovelace"
        assert heading(sam.text(f"/app/r/line/{line}")) == "Widget × 3"
        note_page = sam.text(f"/app/r/note/{note}")
        assert f'<a href="/app/r/person/{ada}">Ada Lovelace</a>' in note_page
        assert f'<a href="/app/r/line/{line}">Widget × 3</a>' in note_page
        found = sam.get("/app/lookup/person?q=Love").get_json()
        assert found["results"] == [{"id": ada, "title": "Ada Lovelace"}]
        lines = sam.get("/app/lookup/line").get_json()
        assert lines["results"] == [{"id": line, "title": "Widget × 3"}]

        grace = created(sam, "person", {"first_name": "Grace", "last_name": "Hopper"})
        changed = sam.post(f"/app/r/note/{note}/edit",
                           {"subject": "Call", "person": grace, "line": line, "_version": "1"})
        assert changed.status_code == 302, changed.get_data(as_text=True)[:2000]
        history = sam.text(f"/app/r/note/{note}").split('<ol class="timeline">', 1)[1]
        assert "Ada Lovelace" in history and "Grace Hopper" in history


def test_a_referenced_record_the_viewer_cannot_read_leaves_its_placeholder_empty(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        sam = screens.user("sam", "seller")
        widget = created(sam, "product", {"name": "Secret widget"})
        line = created(sam, "line", {"product": widget, "quantity": "2"})
        bob = screens.user("bob", "blind")

        page = bob.text(f"/app/r/line/{line}")

        assert heading(page) == "× 2" and "Secret widget" not in page
