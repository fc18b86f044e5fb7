"""Screens do not offer what the services would refuse: list cells of records outside the
user's update scope or in a locked state have no inline editor (tasks included), board cards
of records the user may not update cannot be moved — and a refusal that still happens (the
record was locked or reassigned meanwhile) reads as a translated sentence, not the
service's developer text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

import metacrm.web.board
import metacrm.web.record_form
import metacrm.web.record_list  # noqa: F401
from web_harness import role

OWN = {"read": "all", "create": "all", "update": "own", "delete": "own"}

TASK = entity("task", field("subject", required=True), field("status", "state",
                                                             pipeline="task_flow"),
              title_field="subject")
FLOW = {
    "kind": "pipeline", "name": "task_flow", "version": 1, "label": labels("Tasks"),
    "entity": "task",
    "states": [{"name": "open", "label": labels("Open", "Открыта")},
               {"name": "done", "label": labels("Done", "Готово"), "category": "won",
                "locked": True}],
    "transitions": [{"name": "finish", "label": labels("Finish"), "from": ["open"],
                     "to": "done"}],
}
LIST = {"kind": "view", "name": "task_list", "version": 1, "label": labels("Tasks"),
        "entity": "task", "type": "list", "columns": ["subject", "owner"]}
DOCUMENTS = (TASK, FLOW, LIST,
             role("rep", entities={"task": OWN}, transitions={"task_flow": "*"}))
URL = "/app/r/task"


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as opened:
        yield opened


def created(browser: Browser, subject: str) -> str:
    response = browser.post(f"{URL}/new", {"subject": subject})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"].rsplit("/", 1)[1])


def row(page: str, record_id: str) -> str:
    return page.split(f'data-record-id="{record_id}"', 1)[1].split("</tr>", 1)[0]


def card(page: str, record_id: str) -> str:
    return page.split(f'data-card-id="{record_id}"', 1)[1].split("</li>", 1)[0]


def test_only_records_the_user_may_change_get_inline_editors(screens: Screens) -> None:
    rita, olga = screens.user("rita", "rep"), screens.user("olga", "rep")
    mine = created(rita, "Call Acme")
    theirs = created(olga, "Call Globex")
    done = created(rita, "Send the offer")
    assert rita.post(f"{URL}/{done}/transition/finish", {"_version": "1"}).status_code == 302

    page = rita.text(URL)

    assert 'data-column="subject" data-editor="text"' in row(page, mine)
    assert "data-editor" not in row(page, theirs)  # outside her update scope
    assert "data-editor" not in row(page, done)  # in a locked state


def test_only_cards_the_user_may_move_can_be_dragged(screens: Screens) -> None:
    rita, olga = screens.user("rita", "rep"), screens.user("olga", "rep")
    mine = created(rita, "Call Acme")
    theirs = created(olga, "Call Globex")

    board = rita.text(f"{URL}/board")

    assert 'draggable="true"' in card(board, mine) and "data-move-form" in card(board, mine)
    assert 'draggable="true"' not in card(board, theirs)
    assert "data-move-form" not in card(board, theirs)


def test_a_refusal_after_all_is_a_translated_sentence(screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    task = created(rita, "Call Acme")
    page = rita.text(URL)
    assert "data-editor" in row(page, task)
    # meanwhile the task is finished (locked) in another tab
    assert rita.post(f"{URL}/{task}/transition/finish", {"_version": "1"}).status_code == 302

    locked = rita.post(f"{URL}/{task}/inline", {"field": "subject", "value": "New"})
    assert rita.post("/app/language", {"language": "ru", "next": "/app/"}).status_code == 302
    russian = rita.post(f"{URL}/{task}/inline", {"field": "subject", "value": "New"})

    assert locked.status_code == 403
    assert locked.get_json()["errors"] == [{
        "message": "This record is in a locked state: it can no longer be edited, only moved "
                   "on.", "pointer": ""}]
    assert russian.get_json()["message"].startswith("Запись в заблокированном состоянии")


def test_a_board_move_refused_by_scope_is_a_translated_sentence(screens: Screens) -> None:
    rita, olga = screens.user("rita", "rep"), screens.user("olga", "rep")
    theirs = created(olga, "Call Globex")

    forced = rita.post(f"{URL}/board/move", {"id": theirs, "version": "1", "to": "done"},
                       headers={"Accept": "application/json"})

    assert forced.status_code == 403
    assert forced.get_json()["message"] == "Your roles do not let you change this record."
