"""The record page: fields in the form layout's sections, related lists, the timeline, the
transitions the user may perform (with refusals explained), and field security everywhere
on it; forbidden actions are absent and refused when forced."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from screen_harness import Browser, entity, field, labels, open_screens

import metacrm.web.record_form
import metacrm.web.record_page  # noqa: F401
from web_harness import role

ALL = {"read": "all", "create": "all", "update": "all", "delete": "all", "export": "all"}
READ = {"read": "all"}


def step(name: str, origin: Any, to: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": labels(name.title()), "from": origin, "to": to, **extra}


DEAL = entity(
    "deal",
    field("title", required=True),
    field("amount", "decimal"),
    field("close_date", "date"),
    field("secret", "text"),
    field("stage", "state", pipeline="deal_pipeline"),
    title_field="title", search_fields=["title"],
)
NOTE = entity("note", field("subject", required=True), field("deal", "reference", entity="deal"),
              field("private", "text"), title_field="subject")
PIPELINE = {
    "kind": "pipeline", "name": "deal_pipeline", "version": 1, "label": labels("Deals"),
    "entity": "deal",
    "states": [
        {"name": "new", "label": labels("New", "Новая")},
        {"name": "proposal", "label": labels("Proposal", "Предложение")},
        {"name": "won", "label": labels("Won"), "category": "won", "locked": True},
    ],
    "transitions": [
        step("propose", ["new"], "proposal", required_fields=["amount", "close_date"]),
        step("win", ["proposal"], "won",
             condition={"field": "amount", "op": "gt", "value": "100"}),
        step("restart", ["proposal"], "new", roles=["manager"]),
    ],
}
FORM = {
    "kind": "view", "name": "deal_form", "version": 1, "label": labels("Deal"),
    "entity": "deal", "type": "form",
    "sections": [{"label": labels("Basics", "Основное"), "fields": ["title", "stage"]},
                 {"label": labels("Money"), "fields": ["amount", "close_date", "secret"],
                  "columns": 2}],
}
REP = role("rep", entities={"deal": {**ALL, "fields": {"secret": "hidden"}},
                            "note": {**ALL, "fields": {"private": "hidden"}}},
           transitions={"deal_pipeline": ["propose", "win"]})
MANAGER = role("manager", entities={"deal": ALL, "note": ALL},
               transitions={"deal_pipeline": "*"})
VIEWER = role("viewer", entities={"deal": READ, "note": READ})
DOCUMENTS = (DEAL, NOTE, PIPELINE, FORM, REP, MANAGER, VIEWER)


def created(browser: Browser, entity_name: str, data: dict[str, Any]) -> str:
    response = browser.post(f"/app/r/{entity_name}/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    location: str = response.headers["Location"]
    return location.rsplit("/", 1)[1]


def value(page: str, name: str) -> str:
    found = re.search(rf'<dd data-field="{name}">(.*?)</dd>', page, re.S)
    assert found, f"no value of {name}"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def timeline(page: str) -> list[tuple[str, str]]:
    """(kind, text) of each timeline item, newest first."""
    body = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    items = re.findall(r'<li data-timeline-kind="(\w+)">(.*?)</li>\s*(?=<li data-timeline|$)',
                       body, re.S)
    return [(kind, " ".join(re.sub(r"<[^>]+>", " ", text).split())) for kind, text in items]


def test_the_page_shows_sections_values_related_records_and_the_timeline(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        max_ = screens.user("max", "manager")
        deal = created(max_, "deal", {"title": "Big deal", "amount": "250"})
        created(max_, "note", {"subject": "Call them", "deal": deal})
        created(max_, "note", {"subject": "Unrelated"})
        page = max_.text(f"/app/r/deal/{deal}")
        assert page.index(">Basics</h2>") < page.index(">Money</h2>")
        assert value(page, "title") == "Big deal" and value(page, "amount") == "250"
        assert value(page, "stage") == "New" and 'class="chip"' in page
        related = page.split('data-related="note.deal"', 1)[1].split("</section>", 1)[0]
        assert "Call them" in related and "Unrelated" not in related
        assert f"/app/r/note?filter[deal][eq]={deal}" in related
        assert timeline(page)[0][0] == "created" and "max" in timeline(page)[0][1]
        note = created(max_, "note", {"subject": "S", "deal": deal})
        note_page = max_.text(f"/app/r/note/{note}")
        assert f'<a href="/app/r/deal/{deal}">Big deal</a>' in note_page
        russian = screens.user("ivan", "manager")
        assert russian.post("/app/language", {"language": "ru", "next": "/app/"}
                            ).status_code == 302
        page = russian.text(f"/app/r/deal/{deal}")
        assert ">Основное</h2>" in page and value(page, "stage") == "Новая"


def test_a_transition_button_moves_the_record_and_the_timeline_says_so(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        rita = screens.user("rita", "rep")
        deal = created(rita, "deal", {"title": "Deal", "amount": "500",
                                      "close_date": "2030-01-01"})
        page = rita.text(f"/app/r/deal/{deal}")
        assert 'data-transition="propose"' in page
        assert 'data-transition="win"' not in page  # not from this state
        assert 'data-transition="restart"' not in page  # not for this role
        response = rita.post(f"/app/r/deal/{deal}/transition/propose", {"_version": "1"})
        assert response.status_code == 302
        page = rita.text(f"/app/r/deal/{deal}")
        assert value(page, "stage") == "Proposal"
        kind, text = timeline(page)[0]
        assert kind == "transitioned" and "moved from New to Proposal" in text
        assert 'data-transition="win"' in page
        forced = rita.post(f"/app/r/deal/{deal}/transition/restart", {"_version": "2"})
        assert forced.status_code == 403
        assert "data-transition-error" in forced.get_data(as_text=True)
        assert value(rita.text(f"/app/r/deal/{deal}"), "stage") == "Proposal"


def test_a_guard_refusal_is_explained_and_the_step_asks_for_the_fields(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        rita = screens.user("rita", "rep")
        deal = created(rita, "deal", {"title": "Deal"})
        page = rita.text(f"/app/r/deal/{deal}")
        step_form = page.split('data-transition-form="propose"', 1)[1].split("</form>", 1)[0]
        assert 'name="amount"' in step_form and 'name="close_date"' in step_form
        refused = rita.post(f"/app/r/deal/{deal}/transition/propose",
                            {"_version": "1", "amount": "120"})
        assert refused.status_code == 422
        text = refused.get_data(as_text=True)
        alert = text.split("data-transition-error", 1)[1].split("</div>", 1)[0]
        assert 'role="alert"' in text.split("data-transition-error", 1)[0][-200:]
        assert "Close Date must be filled in first." in alert and "Amount" not in alert
        assert 'name="amount" value="120"' in text  # what was typed is kept
        assert value(text, "stage") == "New" and value(text, "amount") == "—"
        done = rita.post(f"/app/r/deal/{deal}/transition/propose",
                         {"_version": "1", "amount": "50", "close_date": "2030-01-01"})
        assert done.status_code == 302
        page = rita.text(f"/app/r/deal/{deal}")
        assert value(page, "amount") == "50"
        refused = rita.post(f"/app/r/deal/{deal}/transition/win", {"_version": "2"})
        assert refused.status_code == 422
        assert "This step needs: Amount is greater than 100." in refused.get_data(as_text=True)


def test_a_hidden_field_is_nowhere_on_the_page(isolated_database_url: str,
                                               tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        max_ = screens.user("max", "manager")
        deal = created(max_, "deal", {"title": "Deal", "secret": "TOPSECRET"})
        created(max_, "note", {"subject": "Note", "deal": deal, "private": "PRIVATE"})
        assert max_.post(f"/app/r/deal/{deal}/edit", {"_version": "1", "secret": "CLASSIFIED"}
                         ).status_code == 302
        assert "CLASSIFIED" in max_.text(f"/app/r/deal/{deal}")
        rita = screens.user("rita", "rep")
        page = rita.text(f"/app/r/deal/{deal}")
        for text in ("TOPSECRET", "CLASSIFIED", "PRIVATE", 'data-field="secret"', "Secret"):
            assert text not in page, text
        assert [kind for kind, _text in timeline(page)] == ["created"]
        assert "Note" in page.split('data-related="note.deal"', 1)[1]


def test_forbidden_actions_are_absent_and_refused_when_forced(isolated_database_url: str,
                                                              tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        max_ = screens.user("max", "manager")
        deal = created(max_, "deal", {"title": "Deal", "amount": "500",
                                      "close_date": "2030-01-01"})
        page = max_.text(f"/app/r/deal/{deal}")
        assert 'data-action="edit"' in page and 'data-action="delete"' in page
        vic = screens.user("vic", "viewer")
        page = vic.text(f"/app/r/deal/{deal}")
        assert 'data-action="edit"' not in page and 'data-action="delete"' not in page
        assert "data-transition=" not in page
        assert vic.post(f"/app/r/deal/{deal}/delete", {"_version": "1"}).status_code == 403
        assert vic.post(f"/app/r/deal/{deal}/transition/propose").status_code == 403
        # a locked state: no edits, no deletes, even for the manager's rep colleague
        rita = screens.user("rita", "rep")
        for name in ("propose", "win"):
            assert rita.post(f"/app/r/deal/{deal}/transition/{name}").status_code == 302
        page = rita.text(f"/app/r/deal/{deal}")
        assert value(page, "stage") == "Won" and "data-locked" in page
        assert 'data-action="edit"' not in page and 'data-action="delete"' not in page
        assert rita.get(f"/app/r/deal/{deal}/edit").status_code == 403
        assert rita.post(f"/app/r/deal/{deal}/edit", {"title": "X"}).status_code == 403
        assert rita.post(f"/app/r/deal/{deal}/delete").status_code == 403


def test_delete_removes_the_record(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        max_ = screens.user("max", "manager")
        deal = created(max_, "deal", {"title": "Deal"})
        stale = max_.post(f"/app/r/deal/{deal}/delete", {"_version": "7"})
        assert stale.status_code == 412
        gone = max_.post(f"/app/r/deal/{deal}/delete", {"_version": "1"})
        assert gone.status_code == 302 and gone.headers["Location"] == "/app/r/deal"
        assert max_.get(f"/app/r/deal/{deal}").status_code == 404


def test_the_timeline_names_referenced_records_by_title(isolated_database_url: str,
                                                        tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        max_ = screens.user("max", "manager")
        first = created(max_, "deal", {"title": "First deal"})
        second = created(max_, "deal", {"title": "Second deal"})
        note = created(max_, "note", {"subject": "Moved note", "deal": first})
        edit = max_.text(f"/app/r/note/{note}/edit")
        version = re.search(r'name="_version" value="(\d+)"', edit)
        assert version is not None
        response = max_.post(f"/app/r/note/{note}/edit",
                             {"subject": "Moved note", "deal": second,
                              "_version": version.group(1)})
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
        kind, text = timeline(max_.text(f"/app/r/note/{note}"))[0]
        assert kind == "updated" and "First deal → Second deal" in text
